//! A small deterministic generator of hostile and half-valid input.

pub struct Gen(u64);

/// Text that once broke or could break a parser, a reply or a log line.
const EDGES: &[&str] = &[
    "",
    " ",
    "\0",
    "\r\n",
    "\u{600}",
    "\u{100}",
    "\u{10ffff}",
    "\u{202e}",
    "\u{fffd}",
    "%s%n",
    "${",
    "}",
    "${key",
    "${}",
    "${value.}",
    "${value..a}",
    "${field.}",
    "$",
    "\\",
    "*",
    "?",
    "[",
    "]",
    "[^",
    "[a-",
    "\\*",
    "-",
    ",",
    ":",
    "__kafka:",
    "__kafka:bridges",
    "0",
    "-1",
    "9223372036854775807",
    "18446744073709551616",
    "1e309",
    "NaN",
    "all",
    "0-0",
    "1-",
    "-0",
    "99999999999999999999-1",
    "127.0.0.1:1",
    "h:0",
    "h:65536",
    "[::1]:9092",
    "..",
];

/// Words the parsers know, so random commands often get past the first option.
const WORDS: &[&str] = &[
    "TOPICS",
    "PATTERN",
    "BROKERS",
    "GROUP",
    "START",
    "TYPE",
    "KEY",
    "CHANNEL",
    "MEMBER",
    "PUSH",
    "SCORE",
    "TTL",
    "ON-ERROR",
    "TASKS",
    "CONFIG",
    "STREAMS",
    "CHANNELS",
    "TOPIC",
    "FROM",
    "PARTITIONS",
    "REPLICATION",
    "EARLIEST",
    "LATEST",
    "STRING",
    "HASH",
    "JSON",
    "STREAM",
    "LIST",
    "SET",
    "ZSET",
    "TIMESERIES",
    "PUBLISH",
    "LEFT",
    "RIGHT",
    "FAIL",
    "SKIP",
    "DLQ",
    "NEW",
    "BEGINNING",
    "PURGE",
    "t",
    "a,b",
    "s:*",
    "${topic}:${key}",
    "${value.a.b}",
    "${stream}",
    "${channel}",
    "${id}",
    "${field.f}",
    "${header.x}",
    "${timestamp}",
    "${offset}",
    "${partition}",
    "${value}",
    "fetch.min.bytes",
    "acks",
    "enable.idempotence",
    "sasl.password",
    "group.id",
    "1",
    "64",
    "65",
    "0",
];

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// splitmix64
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Mostly printable ASCII, sometimes anything.
    pub fn text_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len)
            .map(|_| {
                if self.chance(90) {
                    b' ' + self.below(95) as u8
                } else {
                    self.next() as u8
                }
            })
            .collect()
    }

    /// One argument: a known word, an edge case, random text, random bytes, or a mix.
    pub fn arg(&mut self) -> Vec<u8> {
        match self.below(10) {
            0..=3 => self.pick(WORDS).as_bytes().to_vec(),
            4..=5 => self.pick(EDGES).as_bytes().to_vec(),
            6 => self.text_bytes(24),
            7 => self.bytes(12),
            8 => {
                let mut mixed = self.pick(WORDS).as_bytes().to_vec();
                mixed.extend(self.pick(EDGES).as_bytes());
                mixed
            }
            _ => {
                let mut upper = self.pick(WORDS).to_ascii_lowercase().into_bytes();
                if self.chance(50) {
                    upper.reverse();
                }
                upper
            }
        }
    }

    pub fn args(&mut self, max: usize) -> Vec<Vec<u8>> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.arg()).collect()
    }

    /// A JSON-ish value: valid JSON of random shape, or something that is almost JSON.
    pub fn json_bytes(&mut self, depth: usize) -> Vec<u8> {
        if self.chance(15) {
            return self.text_bytes(16);
        }
        self.json(depth).into_bytes()
    }

    fn json(&mut self, depth: usize) -> String {
        match self.below(if depth == 0 { 4 } else { 6 }) {
            0 => self.below(1000).to_string(),
            1 => serde_json::Value::from(String::from_utf8_lossy(&self.text_bytes(8))).to_string(),
            2 => self
                .pick(&["true", "false", "null", "1.5e3", "-0"])
                .to_string(),
            3 => format!("\"{}\"", self.pick(&["a", "b", "x\\u0000y", "\\ud800"])),
            4 => {
                let items: Vec<String> = (0..self.below(4)).map(|_| self.json(depth - 1)).collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let fields: Vec<String> = (0..self.below(5))
                    .map(|_| {
                        let name = *self.pick(&["a", "b", "n", "user", "id", "", "a.b"]);
                        format!("\"{name}\":{}", self.json(depth - 1))
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
        }
    }
}
