import { start } from "./app";

const el = document.getElementById("app");
if (el) void start(el);
