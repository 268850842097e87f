//! What the commands print: JSON for scripts (`--json`), or short text and tables for people.

use serde::Serialize;
use shared::wire;

/// Prints `value` as JSON, or `text`.
pub fn done<T: Serialize>(json: bool, value: &T, text: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{text}");
    }
    Ok(())
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
            .map(|(cell, width)| format!("{cell:<width$}"))
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
            json_word(&send.status),
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
            json_word(&document.kind),
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
            json_word(&request.status),
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
fn json_word<T: Serialize>(value: &T) -> String {
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
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
        for days in [-1_000, 0, 10_957, 20_000, 30_000] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(size(1_536), "1.5 KiB");
        assert_eq!(size(12), "12 B");
    }
}
