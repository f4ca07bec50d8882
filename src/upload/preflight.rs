//! Label-file preflight: what Glue requires of a FindMatches labeling file, checked in one
//! streaming pass before the import starts, so a bad file fails in milliseconds with a message
//! that says what to fix (line numbers are physical lines, the header is line 1).

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;

/// Glue's default label-file quota (10 MB).
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Above this many rows a labeling set "may cause poor results or system failure" (Glue docs).
const LARGE_SET_ROWS: u64 = 50;

/// What the preflight found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Data rows read (the header excluded).
    pub rows: u64,
    /// The first problem by position, if any.
    #[serde(serialize_with = "serialize_problem")]
    pub first_problem: Option<Problem>,
    /// How many problems in all.
    pub problems: u64,
    /// Things worth knowing that do not stop the import.
    pub warnings: Vec<String>,
}

/// One thing Glue would reject, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub message: String,
}

fn serialize_problem<S: serde::Serializer>(p: &Option<Problem>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.collect_str(&format_args!("line {}: {}", p.line, p.message)),
        None => s.serialize_none(),
    }
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.problems == 0
    }

    fn problem(&mut self, line: u64, message: String) {
        self.problems += 1;
        if self.first_problem.as_ref().is_none_or(|p| line < p.line) {
            self.first_problem = Some(Problem { line, message });
        }
    }

    /// `"line N: <problem> (and M more problems)"`, or None for a valid file.
    pub fn summary(&self) -> Option<String> {
        let first = self.first_problem.as_ref()?;
        let more = match self.problems - 1 {
            0 => String::new(),
            1 => " (and 1 more problem)".to_string(),
            n => format!(" (and {n} more problems)"),
        };
        Some(format!("line {}: {}{more}", first.line, first.message))
    }
}

/// Reads everything, checking UTF-8 on the way: remembers the first invalid byte's offset and line.
struct Utf8Check<R> {
    inner: R,
    offset: u64,
    lines: u64,
    /// An incomplete sequence at the end of the last read.
    pending: Vec<u8>,
    invalid: Option<(u64, u64)>,
    limit: u64,
    exceeded: bool,
}

impl<R: Read> Read for Utf8Check<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.exceeded {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if self.offset + n as u64 > self.limit {
            // Stop at the quota: the rest is never read.
            self.exceeded = true;
            return Ok(0);
        }
        if n == 0 && !self.pending.is_empty() && self.invalid.is_none() {
            self.invalid = Some((self.offset - self.pending.len() as u64, self.lines + 1));
        }
        if self.invalid.is_none() && n > 0 {
            let mut bytes = std::mem::take(&mut self.pending);
            let start = self.offset - bytes.len() as u64;
            bytes.extend_from_slice(&buf[..n]);
            match std::str::from_utf8(&bytes) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    self.pending = bytes[e.valid_up_to()..].to_vec()
                }
                Err(e) => {
                    // Pending bytes hold no newline (they are the start of a multi-byte sequence).
                    let before = &bytes[..e.valid_up_to()];
                    let newlines = before.iter().filter(|b| **b == b'\n').count() as u64;
                    self.invalid =
                        Some((start + e.valid_up_to() as u64, self.lines + newlines + 1));
                }
            }
        }
        self.lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.offset += n as u64;
        Ok(n)
    }
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// What the rows told, for the checks after the last one.
#[derive(Default)]
struct Rows {
    header_seen: bool,
    width: usize,
    unlabeled: u64,
    first_unlabeled: Option<u64>,
    /// Rows per labeling set.
    sets: HashMap<Vec<u8>, u64>,
}

/// Checks a labeling file read from `input`, reading at most `max_bytes`: the byte-order
/// mark, then every row, then what only the whole file tells.
pub fn validate(input: impl Read, max_bytes: u64) -> Report {
    let mut check = Utf8Check {
        inner: input,
        offset: 0,
        lines: 0,
        pending: Vec::new(),
        invalid: None,
        limit: max_bytes,
        exceeded: false,
    };
    let mut report = Report::default();
    let head = read_head(&mut check);
    let already: &[u8] = if head == BOM {
        report.problem(1, "the file starts with a byte-order mark (saved by Excel with a BOM); save it as UTF-8 without BOM (e.g. \"CSV UTF-8\" then remove the BOM, or export from another editor)".into());
        &[]
    } else {
        &head
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(already.chain(&mut check));
    let rows = read_rows(&mut csv, &mut report);
    drop(csv);
    if check.exceeded {
        // Nothing past the quota was read, so nothing else is known for sure.
        let mut over = Report::default();
        over.problem(1, format!("the file is larger than the label-file quota of {max_bytes} bytes; split it into smaller files"));
        return over;
    }
    whole_file(&check, &rows, &mut report);
    warn_of_sets(&rows, &mut report);
    report
}

/// The first (up to) three bytes, where a byte-order mark would be.
fn read_head(check: &mut impl Read) -> Vec<u8> {
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < 3 {
        match check.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(read) => n += read,
        }
    }
    head[..n].to_vec()
}

/// Every row: the header first, then each row's width and labels.
fn read_rows(csv: &mut csv::Reader<impl Read>, report: &mut Report) -> Rows {
    let mut rows = Rows::default();
    let mut record = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.problem(line, format!("the file is not valid CSV: {e}"));
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if !rows.header_seen {
            rows.header_seen = true;
            rows.width = record.len();
            check_header(&record, line, report);
            continue;
        }
        report.rows += 1;
        if record.len() != rows.width {
            let message = format!(
                "{} columns, but the header has {}",
                record.len(),
                rows.width
            );
            report.problem(line, message);
            continue;
        }
        let set = record.get(0).unwrap_or_default();
        if set.is_empty() || record.get(1).is_none_or(<[u8]>::is_empty) {
            rows.unlabeled += 1;
            rows.first_unlabeled.get_or_insert(line);
            continue;
        }
        *rows.sets.entry(set.to_vec()).or_default() += 1;
    }
    rows
}

fn check_header(record: &csv::ByteRecord, line: u64, report: &mut Report) {
    if record.get(0) == Some(b"labeling_set_id") && record.get(1) == Some(b"label") {
        return;
    }
    let start: Vec<String> = record
        .iter()
        .take(2)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    report.problem(
        line,
        format!(
            "the header must start with labeling_set_id,label but starts with {:?}",
            start.join(",")
        ),
    );
}

/// What only the whole file tells: its encoding, whether it is empty or headless, and its
/// unlabeled rows (told once).
fn whole_file<R>(check: &Utf8Check<R>, rows: &Rows, report: &mut Report) {
    if let Some((offset, line)) = check.invalid {
        let hint = "; the file is probably saved as Windows-1252 (cp1252): save it as UTF-8";
        report.problem(line, format!("invalid UTF-8 at byte offset {offset}{hint}"));
    }
    if check.offset == 0 {
        report.problem(1, "the file is empty (0 bytes)".into());
    } else if !rows.header_seen {
        report.problem(
            1,
            "the file has no header row; it must start with labeling_set_id,label".into(),
        );
    }
    if let Some(line) = rows.first_unlabeled {
        // One problem per unlabeled row, told once.
        let message = format!("{} of {} rows have an empty labeling_set_id or label; label every row before uploading the file", rows.unlabeled, report.rows);
        report.problem(line, message);
        report.problems += rows.unlabeled - 1;
    }
}

/// Warnings about the labeling sets' sizes.
fn warn_of_sets(rows: &Rows, report: &mut Report) {
    let mut large: Vec<(&Vec<u8>, &u64)> = rows
        .sets
        .iter()
        .filter(|(_, n)| **n > LARGE_SET_ROWS)
        .collect();
    large.sort();
    for (set, n) in large {
        report.warnings.push(format!(
            "labeling set {} has {n} rows; Glue recommends 10 to 20, and more than {LARGE_SET_ROWS} may cause poor results",
            String::from_utf8_lossy(set)
        ));
    }
    if rows.sets.len() == 1 && rows.sets.values().all(|n| *n == 1) && report.rows == 1 {
        report.warnings.push(
            "the file holds a single labeling set of one row: Glue learns nothing from it".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB10: u64 = DEFAULT_MAX_BYTES;

    fn check(file: &[u8]) -> Report {
        validate(file, MB10)
    }

    /// Hands out one byte per read, so multi-byte characters straddle reads.
    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.is_empty()) {
                (Some((b, rest)), false) => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// A header, then the same row forever: a file of any size without allocating it.
    struct Endless {
        header: &'static [u8],
        row: &'static [u8],
        at: usize,
    }
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut n = 0;
            while n < buf.len() {
                let source = if self.at < self.header.len() {
                    &self.header[self.at..]
                } else {
                    let i = (self.at - self.header.len()) % self.row.len();
                    &self.row[i..]
                };
                let take = source.len().min(buf.len() - n);
                buf[n..n + take].copy_from_slice(&source[..take]);
                n += take;
                self.at += take;
            }
            Ok(n)
        }
    }

    #[test]
    fn a_well_labeled_file_passes() {
        let file = "labeling_set_id,label,id,name,city\n\
                    S1,A,1,\"Doe, John\",Zürich\n\
                    S1,A,2,\"Doe, J.\",Zürich\n\
                    S1,B,3,\"Smith, \"\"Jane\"\"\",São Paulo\n\
                    S2,A,4,Łukasz,Kraków\n\
                    S2,B,5,\"multi\nline\",Kraków\n";
        let report = check(file.as_bytes());
        assert_eq!(
            report,
            Report {
                rows: 5,
                first_problem: None,
                problems: 0,
                warnings: vec![]
            }
        );
        assert!(report.is_valid() && report.summary().is_none());
        assert_eq!(
            validate(OneByte(file.as_bytes()), MB10),
            report,
            "same result byte by byte"
        );
    }

    #[test]
    fn bad_files_name_the_first_problem_and_count_the_rest() {
        let mut unlabeled = String::from("labeling_set_id,label,id,name\n");
        for i in 0..100 {
            unlabeled.push_str(&format!("{}-set,,{i},Person {i}\n", i / 10));
        }
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"\xef\xbb\xbflabeling_set_id,label,id\nS1,A,1\nS1,B,2\n".to_vec(),
             "line 1: the file starts with a byte-order mark (saved by Excel with a BOM); save it as UTF-8 without BOM (e.g. \"CSV UTF-8\" then remove the BOM, or export from another editor)"),
            (b"labeling_set_id,label,id,name\nS1,A,1,Ann\nS1,A,2,Jos\xe9\nS1,B,3,Zo\xeb\n".to_vec(),
             "line 3: invalid UTF-8 at byte offset 51; the file is probably saved as Windows-1252 (cp1252): save it as UTF-8"),
            (b"id,label,name\n1,A,Ann\n".to_vec(),
             "line 1: the header must start with labeling_set_id,label but starts with \"id,label\""),
            (b"labeling_set_id,id,name\nS1,1,Ann\nS1,2,Anne\n".to_vec(),
             "line 1: the header must start with labeling_set_id,label but starts with \"labeling_set_id,id\""),
            (b"labeling_set_id,label,id\nS1,A,1\nS1,A,2,extra\nS1,B\nS1,B,4\n".to_vec(),
             "line 3: 4 columns, but the header has 3 (and 1 more problem)"),
            (unlabeled.into_bytes(),
             "line 2: 100 of 100 rows have an empty labeling_set_id or label; label every row before uploading the file (and 99 more problems)"),
            (b"labeling_set_id,label,id\nS1,A,\"1\n2\"\n,B,3\n".to_vec(),
             "line 4: 1 of 2 rows have an empty labeling_set_id or label; label every row before uploading the file"),
            (b"".to_vec(), "line 1: the file is empty (0 bytes)"),
        ];
        for (file, want) in cases {
            let report = check(&file);
            assert_eq!(
                report.summary().as_deref(),
                Some(want),
                "{:?}",
                String::from_utf8_lossy(&file)
            );
            assert_eq!(
                validate(OneByte(&file), MB10).summary().as_deref(),
                Some(want),
                "byte by byte"
            );
        }
    }

    #[test]
    fn a_truncated_character_at_the_end_is_invalid_utf8() {
        let report = check(b"labeling_set_id,label,id\nS1,A,\xc3");
        assert_eq!(report.summary().unwrap(), "line 2: invalid UTF-8 at byte offset 30; the file is probably saved as Windows-1252 (cp1252): save it as UTF-8");
    }

    #[test]
    fn a_file_over_the_quota_stops_reading_at_the_quota() {
        let endless = Endless {
            header: b"labeling_set_id,label,id\n",
            row: b"S1,A,12345\n",
            at: 0,
        };
        let report = validate(endless, MB10);
        assert_eq!(
            report.summary().unwrap(),
            "line 1: the file is larger than the label-file quota of 10485760 bytes; split it into smaller files"
        );
        let small = || Endless {
            header: b"labeling_set_id,label,id\n",
            row: b"S1,A,1\n",
            at: 0,
        };
        assert_eq!(
            validate(small().take(1000), 999).summary().unwrap(),
            "line 1: the file is larger than the label-file quota of 999 bytes; split it into smaller files"
        );
        assert!(
            validate(small().take(998), 998).is_valid(),
            "exactly at the quota is fine"
        );
    }

    #[test]
    fn large_sets_and_lonely_rows_are_warnings_not_failures() {
        let mut big = String::from("labeling_set_id,label,id\n");
        for i in 0..51 {
            big.push_str(&format!(
                "S-big,{},{i}\n",
                if i % 2 == 0 { "A" } else { "B" }
            ));
        }
        big.push_str("S-small,A,100\nS-small,B,101\n");
        let report = check(big.as_bytes());
        assert!(report.is_valid());
        assert_eq!(report.warnings, ["labeling set S-big has 51 rows; Glue recommends 10 to 20, and more than 50 may cause poor results"]);

        let lonely = check(b"labeling_set_id,label,id\nS1,A,1\n");
        assert!(lonely.is_valid());
        assert_eq!(
            lonely.warnings,
            ["the file holds a single labeling set of one row: Glue learns nothing from it"]
        );
    }
}
