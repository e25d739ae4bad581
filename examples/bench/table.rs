//! The one table `make bench` prints, and number formatting.

pub struct Row {
    pub measurement: String,
    pub value: String,
    pub baseline: String,
    pub ratio: String,
}

impl Row {
    pub fn new(measurement: &str, value: String, baseline: String, ratio: String) -> Row {
        Row {
            measurement: measurement.into(),
            value,
            baseline,
            ratio,
        }
    }

    /// A figure without a baseline.
    pub fn plain(measurement: &str, value: String) -> Row {
        Row::new(measurement, value, String::new(), String::new())
    }
}

/// `value ÷ baseline`, with the target when there is one.
pub enum Target {
    None,
    AtLeast(f64),
    AtMost(f64),
}

pub fn ratio(value: f64, baseline: f64, target: Target) -> String {
    let r = value / baseline;
    let check = |ok: bool, sign: &str, t: f64| {
        format!(
            "{r:.2} ({} target {sign} {t})",
            if ok { "meets" } else { "MISSES" }
        )
    };
    match target {
        Target::None => format!("{r:.2}"),
        Target::AtLeast(t) => check(r >= t, "≥", t),
        Target::AtMost(t) => check(r <= t, "≤", t),
    }
}

pub fn print(rows: &[Row]) {
    let header = Row::new(
        "measurement",
        "value".into(),
        "baseline".into(),
        "ratio (module ÷ baseline)".into(),
    );
    let cells = |r: &Row| -> [String; 4] {
        [
            r.measurement.clone(),
            r.value.clone(),
            r.baseline.clone(),
            r.ratio.clone(),
        ]
    };
    let all: Vec<[String; 4]> = std::iter::once(&header).chain(rows).map(cells).collect();
    let widths: Vec<usize> = (0..4)
        .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |r: &[String; 4]| {
        let padded: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(text, w)| format!("{text}{}", " ".repeat(w - text.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(&all[0]);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", rule.join("-|-"));
    for row in &all[1..] {
        line(row);
    }
}

/// "Targets: 9 of 14 hold; missed: sink HASH rec/s, ...".
pub fn targets_summary(rows: &[Row]) -> String {
    let with_target: Vec<&Row> = rows.iter().filter(|r| r.ratio.contains("target")).collect();
    let missed: Vec<&str> = with_target
        .iter()
        .filter(|r| r.ratio.contains("MISSES"))
        .map(|r| r.measurement.as_str())
        .collect();
    let held = with_target.len() - missed.len();
    if missed.is_empty() {
        format!("Targets: all {held} hold.")
    } else {
        format!(
            "Targets: {held} of {} hold; missed: {}.",
            with_target.len(),
            missed.join("; ")
        )
    }
}

/// 171234.5 → "171,235".
pub fn count(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn micros(value: f64) -> String {
    format!("{value:.0}")
}

pub fn mib(value: f64) -> String {
    format!("{value:.1}")
}
