//! What the commands print: JSON for scripts (`--json`), or short text and tables for people.

use serde::Serialize;
use shared::wire;

/// Prints `value` as JSON, or `text`.
pub fn done<T: Serialize>(json: bool, value: &T, text: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", plain(text));
    }
    Ok(())
}

/// `text` with every control character but the line break shown as `�`: what a sender, a
/// requester or a relay wrote (a note, a name, an error) cannot move the cursor, rewrite a line
/// ("NOT verified" into "verified") or send the terminal escape sequences.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Prints `items` as JSON, or as the table `table` makes of them.
pub fn list<T: Serialize>(
    json: bool,
    items: &[T],
    table: impl Fn(&[T]) -> Vec<Vec<String>>,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(items)?);
        return Ok(());
    }
    let rows = table(items);
    if rows.len() <= 1 {
        println!("Nothing yet.");
        return Ok(());
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{:<width$}", plain(&cell.replace('\n', " "))))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

pub fn sends_table(sends: &[wire::SendView]) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["ID", "STATUS", "FILES", "SIZE", "OPENS", "EXPIRES"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for send in sends {
        rows.push(vec![
            send.id.to_string(),
            word(&send.status),
            send.files.to_string(),
            size(send.size),
            format!("{}/{}", send.opens, send.max_opens),
            date(send.expires_at),
        ]);
    }
    rows
}

pub fn documents_table(documents: &[wire::DocumentView]) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["ID", "KIND", "FROM", "FILES", "SIZE", "ARRIVED", "READABLE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for document in documents {
        rows.push(vec![
            document.id.to_string(),
            word(&document.kind),
            document.from.clone(),
            document.files.to_string(),
            size(document.size),
            date(document.created_at),
            if document.readable {
                "yes".to_owned()
            } else {
                format!("no (by {})", document.readers.join(", "))
            },
        ]);
    }
    rows
}

pub fn requests_table(requests: &[wire::RequestView]) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["ID", "STATUS", "WAY", "WITH", "DUE", "ANSWERS", "WHAT"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for request in requests {
        let with = if request.outgoing {
            request
                .target
                .clone()
                .unwrap_or_else(|| "by link".to_owned())
        } else {
            request.organisation.clone()
        };
        rows.push(vec![
            request.id.to_string(),
            word(&request.status),
            if request.outgoing { "out" } else { "in" }.to_owned(),
            with,
            date(request.due_at),
            request.fulfilments.len().to_string(),
            request.description.chars().take(40).collect(),
        ]);
    }
    rows
}

/// An enum as its wire word (`delivered`, `chart_transfer`).
pub fn word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Bytes in binary units.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn date(seconds: i64) -> String {
    let rest = seconds.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        shared::dates::utc_date(seconds),
        rest / 3_600,
        rest % 3_600 / 60
    )
}

/// `text` as a QR code of Unicode half blocks, for a phone's camera.
pub fn qr(text: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_801_439_999), "2027-01-31 23:59 UTC");
        assert_eq!(date(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(size(1_536), "1.5 KiB");
        assert_eq!(size(12), "12 B");
        assert_eq!(
            plain("Firm\r(verified)\u{1b}]52;c;x\u{7}\nline"),
            "Firm\u{fffd}(verified)\u{fffd}]52;c;x\u{fffd}\nline"
        );
    }
}
