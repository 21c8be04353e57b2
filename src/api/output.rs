//! Response bodies. Most operations build a `serde_json::Value`; the reads that return items
//! as they were stored (GetItem, Query, Scan) write JSON text directly, copying each item's
//! stored text in without parsing it (see `storage::stored_item`).

use serde_json::Value;

/// An operation's response body.
pub enum Output {
    /// A document to serialize.
    Value(Value),
    /// JSON text, ready to send.
    Text(Vec<u8>),
}

impl From<Value> for Output {
    fn from(value: Value) -> Output {
        Output::Value(value)
    }
}

impl Output {
    /// The body's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            // Serializing a Value into a Vec cannot fail (its keys are strings).
            Output::Value(value) => serde_json::to_vec(&value).unwrap_or_default(),
            Output::Text(bytes) => bytes,
        }
    }
}

/// Writes one JSON object member by member. Member names are the API's own (plain ASCII, no
/// escaping needed); values are JSON text or documents.
pub struct ObjectWriter {
    buf: Vec<u8>,
    empty: bool,
}

impl ObjectWriter {
    /// An object with room for about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> ObjectWriter {
        let mut buf = Vec::with_capacity(capacity + 2);
        buf.push(b'{');
        ObjectWriter { buf, empty: true }
    }

    fn name(&mut self, name: &str) {
        if !self.empty {
            self.buf.push(b',');
        }
        self.empty = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// A member whose value is JSON text (trusted to be valid).
    pub fn text(&mut self, name: &str, json: &str) {
        self.name(name);
        self.buf.extend_from_slice(json.as_bytes());
    }

    /// A member whose value is an array of JSON texts.
    pub fn text_array<'a>(&mut self, name: &str, items: impl IntoIterator<Item = &'a str>) {
        self.name(name);
        self.buf.push(b'[');
        for (n, item) in items.into_iter().enumerate() {
            if n > 0 {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(item.as_bytes());
        }
        self.buf.push(b']');
    }

    /// A member whose value is a document.
    pub fn value(&mut self, name: &str, value: &Value) {
        self.name(name);
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, value);
    }

    /// The finished object.
    pub fn finish(mut self) -> Output {
        self.buf.push(b'}');
        Output::Text(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_members_in_order() {
        let mut out = ObjectWriter::with_capacity(16);
        out.text("Item", r#"{"a": {"S": "x"}}"#);
        out.text_array("Items", ["1", "[]"]);
        out.text_array("None", []);
        out.value("Count", &json!(2));
        let Output::Text(bytes) = out.finish() else {
            panic!("text expected")
        };
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            parsed,
            json!({"Item": {"a": {"S": "x"}}, "Items": [1, []], "None": [], "Count": 2})
        );
    }

    #[test]
    fn empty_object() {
        let Output::Text(bytes) = ObjectWriter::with_capacity(0).finish() else {
            panic!("text expected")
        };
        assert_eq!(bytes, b"{}");
    }
}
