//! What the client is told about a file: SFTP attributes and `ls -l` long names from a
//! `stat`, and which permission bits it may set. Pure conversions, apart from reading the
//! clock, so they are tested without a file system.

use std::{
    ffi::CStr,
    time::{SystemTime, UNIX_EPOCH},
};

use russh_sftp::protocol::{File as Entry, FileAttributes};
use rustix::fs::{FileType, Mode, Stat};

/// The SFTP v3 attributes of a `stat`: size, numeric owner, mode and times (no names: the
/// server's `sshfs` maps ids itself).
pub(super) fn attrs_of(st: &Stat) -> FileAttributes {
    FileAttributes {
        size: Some(to_u64(st.st_size)),
        uid: Some(st.st_uid),
        user: None,
        gid: Some(st.st_gid),
        group: None,
        permissions: Some(st.st_mode),
        atime: Some(to_u32_time(st.st_atime)),
        mtime: Some(to_u32_time(st.st_mtime)),
    }
}

/// One READDIR entry: the name (lossily UTF-8, as paths arrive), its attributes and its long
/// name, with `now` deciding whether the long name shows the time or the year.
pub(super) fn entry_of(name: &CStr, st: &Stat, now: i64) -> Entry {
    let filename = name.to_string_lossy().into_owned();
    Entry {
        longname: longname(&filename, st, now),
        filename,
        attrs: attrs_of(st),
    }
}

/// The permission bits a client may set: rwx and sticky, plus set-group-ID on directories
/// (new files inherit the group). Set-user-ID and set-group-ID on files are dropped: a remote
/// server must not be able to leave a program in the user's folders that others could run as
/// this user.
pub(super) fn allowed_mode(requested: u32, st_mode: u32) -> Mode {
    let mut keep = 0o1777;
    if FileType::from_raw_mode(st_mode) == FileType::Directory {
        keep |= 0o2000;
    }
    Mode::from_bits_truncate(requested & keep)
}

/// The current time in seconds since 1970, for long names; 0 if the clock is before 1970, so
/// that a broken clock shows odd dates rather than failing a listing.
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| to_i64(d.as_secs()))
}

// Generic because `struct stat`'s field types differ between architectures.
fn to_u64<T: TryInto<u64>>(v: T) -> u64 {
    v.try_into().unwrap_or(0)
}

/// SFTP v3 times are u32 seconds: earlier than 1970 shows as 1970, after 2106 as 2106.
fn to_u32_time<T: TryInto<u32> + PartialOrd + Default>(t: T) -> u32 {
    if t < T::default() {
        0
    } else {
        t.try_into().unwrap_or(u32::MAX)
    }
}

fn to_i64<T: TryInto<i64>>(v: T) -> i64 {
    v.try_into().unwrap_or(0)
}

/// An `ls -l` line as OpenSSH's sftp-server writes it (numeric owner, times in UTC since the
/// daemon has no time zone database): `-rw-r--r--    1 1000     1000         5 Mar  3 14:05 f`.
/// Old or future times show the year instead of the time of day.
fn longname(name: &str, st: &Stat, now: i64) -> String {
    let mtime = to_i64(st.st_mtime);
    let (year, month, day) = civil_from_days(mtime.div_euclid(86_400));
    let secs = mtime.rem_euclid(86_400);
    const SIX_MONTHS: i64 = 365 * 86_400 / 2;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("???");
    let when = if now - SIX_MONTHS <= mtime && mtime <= now {
        format!(
            "{month} {day:>2} {:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60
        )
    } else {
        format!("{month} {day:>2}  {year}")
    };
    format!(
        "{} {:>4} {:<8} {:<8} {:>8} {when} {name}",
        mode_string(st.st_mode),
        st.st_nlink,
        st.st_uid,
        st.st_gid,
        to_u64(st.st_size),
    )
}

/// `drwxr-xr-x` and friends, with `s`/`S`/`t`/`T` for the set-id and sticky bits.
fn mode_string(mode: u32) -> String {
    let kind = match FileType::from_raw_mode(mode) {
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::CharacterDevice => 'c',
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
        FileType::RegularFile => '-',
        _ => '?',
    };
    let bit = |mask: u32, c: char| if mode & mask != 0 { c } else { '-' };
    let exec =
        |x: u32, special: u32, on: char, off: char| match (mode & x != 0, mode & special != 0) {
            (true, true) => on,
            (false, true) => off,
            (true, false) => 'x',
            (false, false) => '-',
        };
    [
        kind,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        exec(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        exec(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        exec(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// Year, month (1–12) and day of a day number counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn long_names_look_like_ls() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o4754)).unwrap();
        let mut st = rustix::fs::stat(&path).unwrap();
        // 2021-03-04 05:06:07 UTC
        st.st_mtime = 1_614_834_367;
        let line = longname("f", &st, 1_614_834_367 + 86_400);
        assert!(
            line.starts_with("-rwsr-xr-- ") && line.ends_with(" 5 Mar  4 05:06 f"),
            "{line}"
        );
        let line = longname("f", &st, 1_700_000_000);
        assert!(line.ends_with(" 5 Mar  4  2021 f"), "{line}");
        assert_eq!(mode_string(0o41777), "drwxrwxrwt");
        assert_eq!(mode_string(0o102644), "-rw-r-Sr--");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
