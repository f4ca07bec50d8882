//! What Glue checks in a label file when an import task runs: UTF-8, a header whose first two
//! columns are `labeling_set_id,label`, rows of the header's width. Returns the label count.

/// Counts the labeled rows of a FindMatches labeling file, or says why Glue would fail it.
pub fn count_labels(bytes: &[u8]) -> Result<i64, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "The label file is not valid UTF-8 (first invalid byte at offset {}).",
            e.valid_up_to()
        )
    })?;
    if text.starts_with('\u{feff}') {
        return Err(
            "The label file starts with a byte-order mark; save it as UTF-8 without BOM.".into(),
        );
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("The label file cannot be read as CSV: {e}."))?
        .clone();
    if header.get(0) != Some("labeling_set_id") || header.get(1) != Some("label") {
        return Err(format!(
            "The label file's header must start with labeling_set_id,label but starts with {:?}.",
            header.iter().take(2).collect::<Vec<_>>().join(",")
        ));
    }
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| format!("The label file is not valid CSV: {e}."))?;
        if record.get(0).is_none_or(str::is_empty) || record.get(1).is_none_or(str::is_empty) {
            let line = record.position().map_or(0, |p| p.line());
            return Err(format!(
                "Line {line} of the label file has an empty labeling_set_id or label."
            ));
        }
        rows += 1;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::count_labels;

    #[test]
    fn counts_labeled_rows() {
        let file =
            "labeling_set_id,label,id,name\nS1,A,1,\"Doe, John\"\nS1,A,2,Jöhn Doe\nS1,B,3,Jane\n";
        assert_eq!(count_labels(file.as_bytes()), Ok(3));
    }

    #[test]
    fn fails_what_glue_fails() {
        let cases: [(&[u8], &str); 5] = [
            (b"labeling_set_id,label,id\nS1,A,\xe9\n", "The label file is not valid UTF-8 (first invalid byte at offset 30)."),
            (b"\xef\xbb\xbflabeling_set_id,label,id\nS1,A,1\n", "The label file starts with a byte-order mark; save it as UTF-8 without BOM."),
            (b"id,label\n1,A\n", "The label file's header must start with labeling_set_id,label but starts with \"id,label\"."),
            (b"labeling_set_id,label,id\nS1,A,1,extra\n", "The label file is not valid CSV: CSV error: record 1 (line: 2, byte: 25): found record with 4 fields, but the previous record has 3 fields."),
            (b"labeling_set_id,label,id\nS1,,1\n", "Line 2 of the label file has an empty labeling_set_id or label."),
        ];
        for (file, want) in cases {
            assert_eq!(count_labels(file), Err(want.to_string()));
        }
    }
}
