//! The reduced API models in `shapes.json`, loaded once into an index-linked form.
//!
//! `shapes.json` is written by `tools/gen_shapes.py` from botocore's models of DynamoDB and DynamoDB
//! Streams. It is parsed on first use; shape references become indices and patterns are compiled,
//! so a request walk does no lookups by name.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::Deserialize;

use super::pattern::Pattern;

static SHAPES_JSON: &str = include_str!("shapes.json");

/// Index of a shape in [`ServiceModel::shapes`].
pub(crate) type ShapeId = usize;

/// Both services' models.
pub(crate) struct Models {
    pub dynamodb: ServiceModel,
    pub streams: ServiceModel,
}

/// One service: its operations and the shapes their inputs reach.
pub(crate) struct ServiceModel {
    /// Java package printed for structure values in messages (`...v20120810.WriteRequest@1a2b`).
    pub namespace: String,
    pub operations: HashMap<String, Operation>,
    /// Operation names in sorted order.
    pub operation_names: Vec<String>,
    pub shapes: Vec<Shape>,
}

/// One operation.
pub(crate) struct Operation {
    /// The input structure; `None` for an operation that takes no input.
    pub input: Option<ShapeId>,
    /// Whether the service checks the input's required top-level `TableName` before the model's
    /// constraints, with messages of its own (the table-level operations).
    pub table_name_check: bool,
}

/// One shape.
pub(crate) struct Shape {
    pub name: String,
    pub kind: Kind,
}

/// Inclusive bounds, on a length or on a value.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Bounds {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// The rules of a string shape.
pub(crate) struct StringRules {
    pub len: Bounds,
    /// The pattern as the model writes it (printed in messages) and compiled. A pattern outside
    /// the supported subset would be `None` (never the case for the committed models: a test
    /// checks that every pattern compiles).
    pub pattern: Option<(String, Option<Pattern>)>,
    pub enum_values: Option<Vec<String>>,
    /// Rules that replace these for values starting with `arn:` (table names that may be ARNs).
    pub arn: Option<Box<StringRules>>,
}

impl StringRules {
    /// The rules that apply to `s`.
    pub fn for_value(&self, s: &str) -> &StringRules {
        match &self.arn {
            Some(arn) if s.starts_with("arn:") => arn,
            _ => self,
        }
    }
}

/// What a shape is, with its constraints.
pub(crate) enum Kind {
    Structure {
        members: Vec<Member>,
        /// An AttributeValue: its members' JSON types are checked here, its contents (one type
        /// set, number syntax, ...) by the model module.
        attribute_value: bool,
    },
    List {
        member: ShapeId,
        len: Bounds,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        len: Bounds,
    },
    String(StringRules),
    Integer(IntWidth, Bounds),
    Float(FloatWidth, Bounds),
    Boolean,
    Timestamp,
    Blob(Bounds),
}

/// Java width of an integer member: decides the conversion message and the saturation bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntWidth {
    Integer,
    Long,
}

/// Java width of a floating-point member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatWidth {
    Double,
    Float,
}

/// A structure member.
pub(crate) struct Member {
    pub name: String,
    /// The name as it appears in message paths: first letter lower-cased.
    pub path_name: String,
    pub shape: ShapeId,
    pub required: bool,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "DynamoDB_20120810")]
    dynamodb: RawService,
    #[serde(rename = "DynamoDBStreams_20120810")]
    streams: RawService,
}

#[derive(Deserialize)]
struct RawService {
    namespace: String,
    operations: BTreeMap<String, RawOperation>,
    shapes: BTreeMap<String, RawShape>,
}

#[derive(Deserialize)]
struct RawOperation {
    input: Option<String>,
    #[serde(default)]
    table_name_check: bool,
}

#[derive(Deserialize)]
struct RawShape {
    #[serde(rename = "type")]
    kind: String,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    members: Option<Vec<RawMember>>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
    arn: Option<RawArn>,
    #[serde(default)]
    attribute_value: bool,
}

#[derive(Deserialize)]
struct RawMember {
    name: String,
    shape: String,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
struct RawArn {
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
}

/// The models, parsed at first use. An `Err` (a broken `shapes.json`) is reported per request
/// rather than by panicking.
pub(crate) fn models() -> Result<&'static Models, &'static str> {
    static MODELS: OnceLock<Result<Models, String>> = OnceLock::new();
    MODELS
        .get_or_init(|| load(SHAPES_JSON))
        .as_ref()
        .map_err(String::as_str)
}

fn load(text: &str) -> Result<Models, String> {
    let raw: RawFile = serde_json::from_str(text).map_err(|e| format!("shapes.json: {e}"))?;
    Ok(Models {
        dynamodb: compile_service(raw.dynamodb)?,
        streams: compile_service(raw.streams)?,
    })
}

fn compile_service(raw: RawService) -> Result<ServiceModel, String> {
    let ids: HashMap<&str, ShapeId> = raw
        .shapes
        .keys()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    let id = |name: &str| {
        ids.get(name)
            .copied()
            .ok_or_else(|| format!("shapes.json: unknown shape {name}"))
    };

    let mut shapes = Vec::with_capacity(raw.shapes.len());
    for (name, s) in &raw.shapes {
        let len = Bounds {
            min: s.min,
            max: s.max,
        };
        let kind = match s.kind.as_str() {
            "structure" => {
                let mut members = Vec::new();
                for m in s.members.as_deref().unwrap_or_default() {
                    members.push(Member {
                        name: m.name.clone(),
                        path_name: lower_first(&m.name),
                        shape: id(&m.shape)?,
                        required: m.required,
                    });
                }
                Kind::Structure {
                    members,
                    attribute_value: s.attribute_value,
                }
            }
            "list" => Kind::List {
                member: id(need(&s.member, name, "member")?)?,
                len,
            },
            "map" => Kind::Map {
                key: id(need(&s.key, name, "key")?)?,
                value: id(need(&s.value, name, "value")?)?,
                len,
            },
            "string" => Kind::String(StringRules {
                len,
                pattern: s.pattern.clone().map(compile_pattern),
                enum_values: s.enum_values.clone(),
                arn: s.arn.as_ref().map(|a| {
                    Box::new(StringRules {
                        len: Bounds {
                            min: a.min,
                            max: a.max,
                        },
                        pattern: a.pattern.clone().map(compile_pattern),
                        enum_values: None,
                        arn: None,
                    })
                }),
            }),
            "integer" => Kind::Integer(IntWidth::Integer, len),
            "long" => Kind::Integer(IntWidth::Long, len),
            "double" => Kind::Float(FloatWidth::Double, len),
            "float" => Kind::Float(FloatWidth::Float, len),
            "boolean" => Kind::Boolean,
            "timestamp" => Kind::Timestamp,
            "blob" => Kind::Blob(len),
            other => return Err(format!("shapes.json: {name} has unknown type {other}")),
        };
        shapes.push(Shape {
            name: name.clone(),
            kind,
        });
    }

    let mut operations = HashMap::new();
    for (name, op) in &raw.operations {
        let input = match &op.input {
            Some(input) => Some(id(input)?),
            None => None,
        };
        operations.insert(
            name.clone(),
            Operation {
                input,
                table_name_check: op.table_name_check,
            },
        );
    }
    Ok(ServiceModel {
        namespace: raw.namespace,
        operation_names: raw.operations.keys().cloned().collect(),
        operations,
        shapes,
    })
}

/// A shape reference the shape's type requires.
fn need<'a>(field: &'a Option<String>, shape: &str, what: &str) -> Result<&'a str, String> {
    field
        .as_deref()
        .ok_or_else(|| format!("shapes.json: {shape} has no {what}"))
}

fn compile_pattern(source: String) -> (String, Option<Pattern>) {
    let compiled = Pattern::compile(&source).ok();
    (source, compiled)
}

/// `TableName` -> `tableName`, `SSESpecification` -> `sSESpecification`: how the service names
/// members in message paths.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_models_load_and_every_pattern_compiles() {
        let models = models().expect("shapes.json loads");
        for svc in [&models.dynamodb, &models.streams] {
            for shape in &svc.shapes {
                if let Kind::String(rules) = &shape.kind {
                    for r in [Some(rules), rules.arn.as_deref()].into_iter().flatten() {
                        if let Some((src, compiled)) = &r.pattern {
                            assert!(
                                compiled.is_some(),
                                "{}: pattern {src} does not compile",
                                shape.name
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(
            models.dynamodb.operation_names.len(),
            models.dynamodb.operations.len()
        );
        assert!(models.dynamodb.operations.contains_key("GetItem"));
        assert!(models.streams.operations.contains_key("GetRecords"));
    }

    #[test]
    fn lower_first_matches_service_paths() {
        assert_eq!(lower_first("TableName"), "tableName");
        assert_eq!(lower_first("SSESpecification"), "sSESpecification");
        assert_eq!(lower_first(""), "");
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        assert!(load("").is_err());
        assert!(load("{}").is_err());
        let bad_ref = r#"{"DynamoDB_20120810":{"namespace":"n","operations":{"Op":{"input":"Nope"}},"shapes":{}},
            "DynamoDBStreams_20120810":{"namespace":"n","operations":{},"shapes":{}}}"#;
        assert!(load(bad_ref).is_err());
    }
}
