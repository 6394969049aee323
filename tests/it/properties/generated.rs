//! Generated text and JSON: awkward pieces of text, identifiers, JSON numbers that
//! round-trip, values and objects.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Pieces of text that have broken stores before: quotes, escapes, emoji sequences,
/// combining marks, bidi controls, SQL and template syntax.
pub const AWKWARD: &[&str] = &[
    "\"",
    "'",
    "\\",
    "\\u0000",
    "\\n",
    "\r\n",
    "\t",
    "😀",
    "👨\u{200d}👩\u{200d}👧\u{200d}👦",
    "🏳\u{fe0f}\u{200d}🌈",
    "e\u{301}",
    "\u{202e}",
    "\u{feff}",
    "中文",
    "𝕏",
    "\u{10ffff}",
    "'; DROP TABLE messages; --",
    "</script>",
    "%s%n",
    "{{x}}",
    "%",
    "_",
];

/// Any text without NUL (which no backend stores), built from awkward pieces, ASCII
/// and arbitrary characters.
pub fn text(max_pieces: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[ -~]{1,4}",
        2 => prop::sample::select(AWKWARD).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
    ];
    vec(piece, 0..=max_pieces).prop_map(|pieces| pieces.concat().replace('\0', ""))
}

/// An identifier (user key, platform, chat id, persona, idempotency key): 1 to
/// `max_chars` characters, none of them control characters.
pub fn identifier(max_chars: usize) -> impl Strategy<Value = String> {
    text(6).prop_map(move |t| {
        let kept: String = t
            .chars()
            .filter(|c| !c.is_control())
            .take(max_chars)
            .collect();
        if kept.is_empty() { "k".into() } else { kept }
    })
}

/// Whether serde_json reads back every `f64` it writes. By default its parser is
/// only "best effort" and misses the last bit of about a third of all doubles (this
/// one among them); its `float_roundtrip` feature makes it exact.
pub fn floats_round_trip() -> bool {
    let awkward = 1.0715660391465826e-75_f64;
    serde_json::from_str::<f64>(&awkward.to_string()).ok() == Some(awkward)
}

pub fn json_number() -> impl Strategy<Value = Value> {
    // Short decimals, which serde_json's fast path reads back exactly...
    let decimals = (-999_999_999_999i64..=999_999_999_999, -9i32..=1)
        .prop_map(|(digits, exponent)| {
            json!(
                format!("{digits}e{exponent}")
                    .parse::<f64>()
                    .expect("a decimal")
            )
        })
        .boxed();
    // ... and, once the store's serde_json reads floats exactly, any double.
    let doubles = if floats_round_trip() {
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from)
            .boxed()
    } else {
        decimals.clone()
    };
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        decimals,
        doubles,
    ]
}

/// Any JSON value, nested a few levels deep.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        text(4).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            json_object(inner).prop_map(Value::Object),
        ]
    })
}

pub fn json_object(
    values: impl Strategy<Value = Value>,
) -> impl Strategy<Value = Map<String, Value>> {
    btree_map(text(3), values, 0..5).prop_map(|map| map.into_iter().collect())
}
