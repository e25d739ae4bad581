//! The records the bench moves: sink records (key `k<i % keys>`, a JSON value of a fixed size)
//! and source stream entries (fields `id` and `payload`, forwarded as ~`value_bytes` of JSON).

pub struct Workload {
    pub keys: usize,
    pub value_bytes: usize,
    filler: String,
}

impl Workload {
    pub fn new(keys: usize, value_bytes: usize) -> Workload {
        Workload {
            keys,
            value_bytes,
            filler: "x".repeat(value_bytes),
        }
    }

    /// Kafka key of sink record `i`.
    pub fn key(&self, i: usize) -> String {
        format!("k{}", i % self.keys)
    }

    /// `{"id":i,"user":"u<k>","payload":"xxx…"}`, padded to `value_bytes` bytes.
    pub fn value(&self, i: usize) -> String {
        let head = format!(r#"{{"id":{i},"user":"u{}","payload":""#, i % self.keys);
        let pad = self.value_bytes.saturating_sub(head.len() + 2);
        format!("{head}{}\"}}", &self.filler[..pad])
    }

    /// Stream `src:<i % 4>` receives entry `i`.
    pub fn stream(&self, i: usize) -> String {
        format!("src:{}", i % 4)
    }

    pub fn streams(&self) -> [String; 4] {
        std::array::from_fn(|i| format!("src:{i}"))
    }

    /// Topics the source creates for the streams (`:` is not allowed in topic names).
    pub fn source_topics(&self) -> [String; 4] {
        std::array::from_fn(|i| format!("src_{i}"))
    }

    /// The `payload` field of a stream entry: the forwarded `{"id":"…","payload":"…"}` is about
    /// `value_bytes` long.
    pub fn entry_payload(&self) -> &str {
        &self.filler[..self.value_bytes.saturating_sub(28)]
    }

    /// What the source produces for entry `i`: the entry's fields as a JSON object.
    pub fn entry_json(&self, i: usize) -> String {
        format!(r#"{{"id":"{i}","payload":"{}"}}"#, self.entry_payload())
    }
}
