//! Markdown tables and the number formats used in them, so the output can
//! be pasted into `docs/performance.md` as is.

use std::time::Duration;

/// A Markdown table built row by row.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are left empty, extra cells dropped, so
    /// the table is always well-formed.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// Renders GitHub-flavoured Markdown with columns padded to equal width.
    pub fn render(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|");
        let mut widths: Vec<usize> = self
            .headers
            .iter()
            .map(|h| cell(h).chars().count().max(3))
            .collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell(c).chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| {
                    let c = cell(c);
                    let pad = w.saturating_sub(c.chars().count());
                    format!("{c}{}", " ".repeat(pad))
                })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = line(&self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// Seconds with millisecond precision: `1.234 s`.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// KiB as MiB with one decimal: `153.2 MiB`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Bytes as MiB with one decimal.
pub fn bytes_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `met` or `MISSED`, so a missed target stands out when scanning.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_markdown() {
        let mut t = Table::new(&["size", "wall"]);
        t.row(vec!["small".into(), "0.120 s".into()]);
        t.row(vec!["large".into()]);
        t.row(vec!["a|b".into(), "1".into(), "dropped".into()]);
        let md = t.render();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| size  | wall    |");
        assert_eq!(lines[1], "| ----- | ------- |");
        assert_eq!(lines[2], "| small | 0.120 s |");
        assert_eq!(lines[3], "| large |         |");
        assert_eq!(lines[4], "| a\\|b  | 1       |");
    }

    #[test]
    fn formats_units() {
        assert_eq!(secs(Duration::from_millis(1234)), "1.234 s");
        assert_eq!(mib(153_804), "150.2 MiB");
        assert_eq!(bytes_mib(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(verdict(false), "MISSED");
    }
}
