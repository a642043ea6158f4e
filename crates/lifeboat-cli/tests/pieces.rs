//! The pieces format under hostile timing: `kill -9` at twenty points of a backup and of a
//! prune, and backups racing prunes in one destination. Whatever happens, every snapshot
//! listed deep-verifies and the next backup succeeds.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Place {
    _t: tempfile::TempDir,
    root: PathBuf,
    stack: PathBuf,
    dest: PathBuf,
}

impl Place {
    fn new() -> Self {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        let stack = root.join("app");
        let dest = root.join("dest");
        std::fs::create_dir_all(stack.join("data")).unwrap();
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::write(
            stack.join("compose.yaml"),
            "services:\n  app:\n    image: busybox\n    volumes: ['./data:/data']\n",
        )
        .unwrap();
        std::fs::write(stack.join(".env"), "TOKEN=abc\n").unwrap();
        // 48 MiB that does not compress: enough for a backup to take a while.
        for i in 0..24u64 {
            std::fs::write(stack.join(format!("data/blob{i}")), noise(i, 2 << 20)).unwrap();
        }
        let p = Self {
            _t: t,
            root,
            stack,
            dest,
        };
        let out = p.run(&["key", "init", "--identity", p.key().to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        p
    }

    fn key(&self) -> PathBuf {
        self.root.join("key.txt")
    }

    fn lifeboat(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
        c.env("LIFEBOAT_HOME", self.root.join("home"))
            .env("LIFEBOAT_IDENTITY", self.key())
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env_remove("LIFEBOAT_FAILPOINT")
            .current_dir(&self.root);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.lifeboat().args(args).output().unwrap()
    }

    fn backup_args(&self) -> Vec<String> {
        vec![
            "backup".into(),
            self.stack.display().to_string(),
            "--to".into(),
            self.dest.display().to_string(),
            "--no-docker".into(),
            "--json".into(),
        ]
    }

    fn prune_args(&self) -> Vec<String> {
        vec![
            "prune".into(),
            "--to".into(),
            self.dest.display().to_string(),
            "--keep-last".into(),
            "2".into(),
            "--json".into(),
        ]
    }

    fn spawn(&self, args: &[String]) -> Child {
        self.lifeboat()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// A backup of the stack to `dest`, which must succeed; its JSON report.
    fn backup_to(&self, dest: &std::path::Path) -> serde_json::Value {
        let mut args = self.backup_args();
        args[3] = dest.display().to_string();
        let out = self.lifeboat().args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Restores `snapshot` from `dest` into a new folder `restored`, which it returns.
    fn restore_from(&self, dest: &std::path::Path, snapshot: &str) -> PathBuf {
        let into = self.root.join("restored");
        let out = self.run(&[
            "restore",
            snapshot,
            "--from",
            dest.to_str().unwrap(),
            "--into",
            into.to_str().unwrap(),
            "--yes",
            "--no-docker",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        into
    }

    fn backup_ok(&self) {
        let out = self.lifeboat().args(self.backup_args()).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }

    /// Every snapshot listed reads back whole: pieces, lists, checksums.
    fn deep_verify(&self, when: &str) -> u64 {
        self.deep_verify_in(&self.dest, when)
    }

    fn deep_verify_at(&self, dest: &std::path::Path) -> u64 {
        self.deep_verify_in(dest, "")
    }

    fn deep_verify_in(&self, dest: &std::path::Path, when: &str) -> u64 {
        let out = self.run(&["verify", "--deep", "--to", dest.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{when}: {}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["problems"], serde_json::json!([]), "{when}: {v}");
        v["snapshots"].as_u64().unwrap()
    }

    /// A day of change: one blob rewritten, one grown, a small file new.
    fn change(&self, day: u64) {
        let data = self.stack.join("data");
        std::fs::write(
            data.join(format!("blob{}", day % 24)),
            noise(1000 + day, 2 << 20),
        )
        .unwrap();
        let mut grown = std::fs::read(data.join("blob23")).unwrap();
        grown.extend(noise(2000 + day, 300 << 10));
        std::fs::write(data.join("blob23"), grown).unwrap();
        std::fs::write(data.join(format!("note{day}.txt")), format!("day {day}\n")).unwrap();
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Deterministic bytes that do not compress (xorshift).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Kills `child` with SIGKILL after `after`; whether it was still running then.
fn kill_after(mut child: Child, after: Duration) -> bool {
    std::thread::sleep(after);
    let running = child.try_wait().unwrap().is_none();
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let _ = child.wait();
    running
}

fn timed(f: impl FnOnce()) -> Duration {
    let t0 = Instant::now();
    f();
    t0.elapsed()
}

#[test]
fn kill_9_at_twenty_points_of_a_backup_and_of_a_prune() {
    let p = Place::new();
    p.backup_ok();
    p.change(1000);
    // As long as a backup of a day's change takes (most pieces are there already).
    let mut took = timed(|| p.backup_ok());
    // Points spread over that length, until twenty kills landed inside a running backup.
    // A kill that came after the backup had ended shortens the length (later backups can
    // be quicker than the one timed).
    let (mut mid_run, mut tries) = (0, 0u32);
    while mid_run < 20 && tries < 60 {
        p.change(u64::from(tries));
        let child = p.spawn(&p.backup_args());
        if kill_after(child, took * ((tries * 7) % 20) / 20) {
            mid_run += 1;
        } else {
            took = took * 4 / 5;
        }
        p.deep_verify(&format!("after killing backup {tries}"));
        tries += 1;
    }
    eprintln!("backups killed while running: {mid_run} of {tries} (one took {took:?})");
    assert_eq!(mid_run, 20, "twenty kills must land inside a backup");
    p.backup_ok();
    let snapshots = p.deep_verify("after the backups");
    assert!(snapshots >= 2);

    // Prune: many snapshots with pieces of their own, so a prune has work to be killed in.
    for i in 0..6 {
        p.change(100 + i);
        p.backup_ok();
    }
    let mut prune_took = Duration::ZERO;
    let (mut mid_prune, mut tries) = (0, 0u32);
    while mid_prune < 20 && tries < 60 {
        let i = tries;
        tries += 1;
        p.change(200 + u64::from(i));
        p.backup_ok();
        if i == 0 {
            // Measured once on a copy, so the killed prunes have as much to do.
            let copy = p.root.join("dest-copy");
            assert!(Command::new("cp")
                .arg("-a")
                .arg(&p.dest)
                .arg(&copy)
                .status()
                .unwrap()
                .success());
            let mut args = p.prune_args();
            args[2] = copy.display().to_string();
            prune_took = timed(|| {
                let out = p.lifeboat().args(&args).output().unwrap();
                assert!(out.status.success(), "{}", text(&out));
            });
            std::fs::remove_dir_all(&copy).unwrap();
        }
        let child = p.spawn(&p.prune_args());
        // A killed prune leaves less for the next: points in the first half of its length.
        if kill_after(child, prune_took * ((i * 7) % 20) / 40) {
            mid_prune += 1;
        }
        p.deep_verify(&format!("after killing prune {i}"));
    }
    eprintln!("prunes killed while running: {mid_prune} of {tries} (one took {prune_took:?})");
    assert_eq!(mid_prune, 20, "twenty kills must land inside a prune");
    p.backup_ok();
    let out = p.lifeboat().args(p.prune_args()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["pieces_left"].is_null(), "dead markers do not block: {r}");
    assert_eq!(p.deep_verify("at the end"), 2);
}

/// Backups of one stack while prunes of another run in the same destination: pieces are
/// shared, so a prune's deletion of what no snapshot refers to yet would take pieces a
/// running backup has just stored or is about to reuse.
#[test]
fn backups_racing_prunes_never_end_with_a_missing_piece() {
    let p = Place::new();
    // The second stack holds copies of the first one's blobs: its pieces are the same.
    let other = p.root.join("other");
    std::fs::create_dir_all(other.join("data")).unwrap();
    std::fs::write(
        other.join("compose.yaml"),
        "services:\n  web:\n    image: busybox\n    volumes: ['./data:/data']\n",
    )
    .unwrap();
    for i in 0..24u64 {
        std::fs::copy(
            p.stack.join(format!("data/blob{i}")),
            other.join(format!("data/blob{i}")),
        )
        .unwrap();
    }
    p.backup_ok();
    let mut other_backup = p.backup_args();
    other_backup[1] = other.display().to_string();
    let mut prune = p.prune_args();
    prune.extend(["--stack".into(), "app".into()]);
    // Snapshots of `app` to prune, each with pieces of its own.
    for day in 0..3 {
        p.change(day);
        p.backup_ok();
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let (mut prunes, mut collected, mut left) = (0u64, 0u64, 0u64);
    std::thread::scope(|s| {
        s.spawn(|| {
            for day in 0..6u64 {
                // A blob of `app` that a prune may just have freed comes back in `other`.
                std::fs::write(
                    other.join(format!("data/new{day}")),
                    noise(1000 + day, 2 << 20),
                )
                .unwrap();
                let out = p.lifeboat().args(&other_backup).output().unwrap();
                assert!(out.status.success(), "backup {day}: {}", text(&out));
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut day = 10;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            p.change(day);
            day += 1;
            p.backup_ok();
            let out = p.lifeboat().args(&prune).output().unwrap();
            assert!(out.status.success(), "{}", text(&out));
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            prunes += 1;
            collected += r["pieces_removed"].as_u64().unwrap();
            left += u64::from(r["pieces_left"].is_string());
        }
    });
    eprintln!(
        "during the race: {prunes} prunes, {collected} pieces collected, {left} left pieces for a running backup"
    );
    assert!(left > 0, "a prune met a running backup");
    p.deep_verify("after the race");
    let out = p.lifeboat().args(&prune).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    collected += r["pieces_removed"].as_u64().unwrap();
    assert!(collected > 0, "prunes collected pieces: {r}");
    p.deep_verify("after the last prune");
    p.backup_ok();
}

/// A file system of a USB stick from an image, mounted through FUSE (this kernel has no
/// vfat or exFAT driver); unmounted on drop.
struct Stick {
    mnt: PathBuf,
    /// The loop device exFAT is mounted from (exfat-fuse run as root wants a block device).
    loop_dev: Option<String>,
}

/// Which file system, with the tools that make and mount it.
#[derive(Clone, Copy)]
enum Format {
    /// `mkfs.vfat -F 32` and `fusefat` (Debian dosfstools, fusefat).
    Fat32,
    /// `mkfs.exfat` and `mount.exfat-fuse` (Debian exfatprogs, exfat-fuse), from a loop
    /// device.
    Exfat,
}

impl Stick {
    fn mount(root: &std::path::Path, format: Format) -> Option<Self> {
        let (mkfs, mount): (&[&str], &[&str]) = match format {
            Format::Fat32 => (
                &["mkfs.vfat", "-F", "32", "-n", "USBSTICK"],
                &["fusefat", "-o", "rw+"],
            ),
            Format::Exfat => (&["mkfs.exfat", "-L", "USBSTICK"], &["mount.exfat-fuse"]),
        };
        for tool in [mkfs[0], mount[0], "fusermount"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !found {
                lifeboat_testkit::skip(&format!(
                    "{tool} is missing (Debian packages dosfstools, fusefat, exfatprogs, exfat-fuse)"
                ));
                return None;
            }
        }
        if !std::path::Path::new("/dev/fuse").exists() {
            lifeboat_testkit::skip("/dev/fuse is missing: FUSE cannot mount here");
            return None;
        }
        let img = root.join("stick.img");
        let mnt = root.join("usb");
        std::fs::create_dir_all(&mnt).unwrap();
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(512 << 20).unwrap();
        drop(f);
        let made = Command::new(mkfs[0])
            .args(&mkfs[1..])
            .arg(&img)
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", text(&made));
        let loop_dev = matches!(format, Format::Exfat).then(|| {
            let out = Command::new("losetup")
                .args(["-f", "--show"])
                .arg(&img)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        });
        let source = loop_dev.clone().map_or(img.clone(), PathBuf::from);
        let mount = Command::new(mount[0])
            .args(&mount[1..])
            .arg(&source)
            .arg(&mnt)
            .output()
            .unwrap();
        let stick = Self { mnt, loop_dev };
        assert!(mount.status.success(), "{}", text(&mount));
        Some(stick)
    }
}

impl Drop for Stick {
    fn drop(&mut self) {
        let _ = Command::new("fusermount").arg("-u").arg(&self.mnt).status();
        if let Some(dev) = &self.loop_dev {
            let _ = Command::new("losetup").args(["-d", dev]).status();
        }
    }
}

/// A backup drive formatted FAT32 (files up to 4 GiB) holds a component with a 4.5 GiB
/// file, and it comes back whole.
#[test]
fn a_fat32_drive_holds_a_file_over_4_gib_and_it_restores() {
    let p = Place::new();
    let Some(fat) = Stick::mount(&p.root, Format::Fat32) else {
        return;
    };
    // Sparse, with real bytes at its start, around the 4 GiB mark and at its end.
    let big = p.stack.join("data/disk.img");
    let len: u64 = (4 << 30) + (512 << 20);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(&big).unwrap();
        f.write_all(&noise(1, 1 << 20)).unwrap();
        f.seek(SeekFrom::Start((4 << 30) - 4096)).unwrap();
        f.write_all(&noise(2, 1 << 20)).unwrap();
        f.set_len(len).unwrap();
        f.seek(SeekFrom::Start(len - 4096)).unwrap();
        f.write_all(&noise(3, 4096)).unwrap();
    }
    let dest = fat.mnt.join("backups");
    std::fs::create_dir(&dest).unwrap();
    p.backup_to(&dest);
    // Every file on the stick is far below FAT32's limit; the zeros are stored once.
    let mut largest = 0;
    let mut files = 0;
    let mut stack = vec![dest.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
                largest = largest.max(m.len());
            }
        }
    }
    eprintln!("on the FAT32 stick: {files} files, the largest {largest} bytes");
    // At most 4 MiB of plaintext, plus gzip's and age's framing for bytes that do not
    // compress.
    assert!(largest < (4 << 20) + (64 << 10), "{largest}");
    let into = p.restore_from(&dest, "latest");
    let back = into.join("data/disk.img");
    assert_eq!(std::fs::metadata(&back).unwrap().len(), len);
    let cmp = Command::new("cmp").arg(&big).arg(&back).output().unwrap();
    assert!(cmp.status.success(), "{}", text(&cmp));
    p.deep_verify_at(&dest);
}

/// `verify --read-subset N%` reads a random share of the pieces whole: damage the quick check
/// cannot see (a flipped byte inside a piece) is found when its piece is drawn.
#[test]
fn a_subset_read_finds_what_the_quick_check_cannot() {
    let p = Place::new();
    p.backup_ok();
    let dest = p.dest.to_str().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(p.dest.join("_pieces"))
        .unwrap()
        .flat_map(|f| std::fs::read_dir(f.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|f| std::fs::metadata(f).unwrap().len());
    let victim = files.last().unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(victim, &bytes).unwrap();

    let quick = p.run(&["verify", "--to", dest, "--json"]);
    assert!(
        quick.status.success(),
        "sizes and headers are intact: {}",
        text(&quick)
    );
    let half = p.run(&["verify", "--to", dest, "--read-subset", "50%", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&half.stdout).unwrap();
    let read = v["pieces_read"].as_u64().unwrap();
    assert!(read > 0 && read < files.len() as u64, "{v}");
    let all = p.run(&["verify", "--to", dest, "--read-subset", "100%", "--json"]);
    assert_eq!(all.status.code(), Some(1), "{}", text(&all));
    let v: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(
        v["pieces_read"].as_u64().unwrap(),
        files.len() as u64,
        "{v}"
    );
    let name = victim.file_name().unwrap().to_string_lossy().into_owned();
    let problems = v["problems"].as_array().unwrap();
    assert!(
        problems.len() == 1 && problems[0]["message"].as_str().unwrap().contains(&name),
        "{v}"
    );
    let bad = p.run(&["verify", "--to", dest, "--read-subset", "0%"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("from 1% to 100%"), "{}", text(&bad));
}

/// The same on exFAT, the file system of most sticks over 32 GB: a backup, a day of change,
/// a restore of the first snapshot and a deep verify, all on the stick.
#[test]
fn an_exfat_drive_holds_backups_that_restore() {
    let p = Place::new();
    let Some(stick) = Stick::mount(&p.root, Format::Exfat) else {
        return;
    };
    let dest = stick.mnt.join("backups");
    std::fs::create_dir(&dest).unwrap();
    let first = p.backup_to(&dest);
    let before = std::fs::read(p.stack.join("data/blob3")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    p.change(3);
    p.backup_to(&dest);
    assert_eq!(p.deep_verify_at(&dest), 2);
    let into = p.restore_from(&dest, first["snapshot"].as_str().unwrap());
    assert_eq!(std::fs::read(into.join("data/blob3")).unwrap(), before);
}

/// The stock `age` decryption of `file`, gunzipped when it is compressed (manifests).
fn decrypt(key: &std::path::Path, file: &std::path::Path) -> Vec<u8> {
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    if out.stdout.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(out.stdout.as_slice()),
            &mut plain,
        )
        .unwrap();
        return plain;
    }
    out.stdout
}

#[test]
fn one_file_comes_back_from_the_pieces_that_hold_it_alone() {
    let p = Place::new();
    let note = p.stack.join("data/note.txt");
    std::fs::write(&note, "the one file someone deleted\n").unwrap();
    std::fs::set_permissions(&note, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let report = p.backup_to(&p.dest);
    let snapshot = report["snapshot"].as_str().unwrap();
    let app = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "service-app")
        .unwrap();
    let list = String::from_utf8(decrypt(
        &p.key(),
        std::path::Path::new(app["list"].as_str().unwrap()),
    ))
    .unwrap();
    let pieces: Vec<&str> = list.lines().collect();
    assert!(pieces.len() >= 24, "{} pieces", pieces.len());

    // Where the manifest says the file's entry starts.
    let manifest: serde_json::Value = serde_json::from_slice(&decrypt(
        &p.key(),
        std::path::Path::new(report["manifest"].as_str().unwrap()),
    ))
    .unwrap();
    let entry = manifest["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "service-app")
        .and_then(|c| {
            c["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["path"] == "data/note.txt")
        })
        .cloned()
        .unwrap();
    let first = entry["at"][0].as_u64().unwrap() as usize;

    // Every other piece of the component moves away: only the file's own are left.
    let away = p.root.join("away");
    std::fs::create_dir_all(&away).unwrap();
    let keep = first..(first + 2).min(pieces.len());
    for (i, rel) in pieces.iter().enumerate() {
        if !keep.contains(&i) {
            std::fs::rename(p.dest.join(rel), away.join(i.to_string())).unwrap();
        }
    }

    let into = p.root.join("one");
    let restore_one = |file: &str| {
        p.run(&[
            "restore",
            snapshot,
            "--from",
            p.dest.to_str().unwrap(),
            "--file",
            file,
            "--into",
            into.to_str().unwrap(),
            "--json",
        ])
    };
    let out = restore_one("data/note.txt");
    assert!(out.status.success(), "{}", text(&out));
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(done["pieces_read"].as_u64().unwrap() <= 2, "{done}");
    assert_eq!(
        done["pieces_total"].as_u64().unwrap() as usize,
        pieces.len()
    );
    let back = into.join("data/note.txt");
    assert_eq!(
        std::fs::read(&back).unwrap(),
        b"the one file someone deleted\n"
    );
    let (a, b) = (
        std::fs::metadata(&note).unwrap(),
        std::fs::metadata(&back).unwrap(),
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(b.mode() & 0o7777, 0o640);
    assert_eq!((a.mtime(), a.mtime_nsec()), (b.mtime(), b.mtime_nsec()));
    assert_eq!((a.uid(), a.gid()), (b.uid(), b.gid()));

    // The pieces that moved away were needed by the rest: a blob does not come back.
    let out = restore_one("data/blob0");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is missing"), "{}", text(&out));
    assert!(!into.join("data/blob0").exists());
    assert!(std::fs::read_dir(into.join("data")).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("partial")));

    // A file that is there is never written over; a name the snapshot lacks is said.
    std::fs::write(&back, "changed since\n").unwrap();
    let out = restore_one("data/note.txt");
    assert!(!out.status.success());
    assert!(text(&out).contains("is there already"), "{}", text(&out));
    assert_eq!(std::fs::read(&back).unwrap(), b"changed since\n");
    let out = restore_one("data/nothing-like-it");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("holds no file data/nothing-like-it"),
        "{}",
        text(&out)
    );
}
