//! The shape of a route table. Each module that serves routes owns a
//! `ROUTES` table next to its router, written with [`route!`]: method,
//! path, tag, summary, the access-control action the guard checks, and
//! the request and reply bodies as the API's own types. The guard, the
//! OpenAPI document ([`super::openapi`]) and the console read the union
//! ([`super::routes`]). A leaf: it names no handler and no module.

use coc_domain::access::Action;
use utoipa::openapi::{Ref, RefOr, Schema};

/// Named schemas collected while documenting (name, schema).
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// Documents one type: adds the schemas it needs to the collection and
/// returns a reference to it (or, for generic instances such as
/// `Vec<Alarm>`, the schema itself).
pub type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// What a successful call answers.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// Not described beyond its status (200).
    Unspecified,
    /// JSON with this status and schema.
    Json(u16, SchemaFn),
    /// `{"items": [T…], "next_cursor": string|null}` with 200.
    List(SchemaFn),
    /// 204, no body.
    NoContent,
    /// 200 with a body of this media type (text, a stream, an upgrade).
    Media(&'static str),
}

/// What the guard checks a route against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// No token: health, metrics, ingest (its key), login, the agent link.
    Public,
    /// This catalog action.
    Action(Action),
    /// An `…/actions` route: the action its body's `action` names, of the
    /// module in this wildcard (`coc:job:*`).
    BodyAction(&'static str),
}

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: &'static str,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Module.
    pub tag: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Needs the bearer token.
    pub auth: bool,
    /// What the guard checks it against.
    pub check: Check,
    /// The JSON request body, if the route takes one.
    pub body: Option<SchemaFn>,
    /// The route takes a binary body (`application/octet-stream`) of at
    /// most this many bytes instead (an agent build); `None`: JSON bodies
    /// of at most [`crate::API_BODY_LIMIT`].
    pub binary: Option<usize>,
    /// The query string's fields (an object type), if any.
    pub query: Option<SchemaFn>,
    /// The success answer.
    pub reply: Reply,
}

/// `T`'s schema: registered by name and referenced, or inline for a
/// generic instance (their names are not unique).
pub fn schema<T: utoipa::ToSchema>(out: &mut Schemas) -> RefOr<Schema> {
    T::schemas(out);
    if std::any::type_name::<T>().contains('<') {
        return T::schema();
    }
    let name = T::name();
    match out.iter().find(|(n, _)| *n == name) {
        // Two API types of one name would share one schema: rename one
        // with `#[schema(as = …)]` (the document test fails on this).
        Some((_, known)) => debug_assert!(
            *known == T::schema(),
            "two API types are named {name}: give one `#[schema(as = …)]`"
        ),
        None => out.push((name.to_string(), T::schema())),
    }
    RefOr::Ref(Ref::from_schema_name(name))
}

impl RouteDoc {
    /// A route with no documented bodies.
    pub const fn new(
        method: &'static str,
        path: &'static str,
        tag: &'static str,
        summary: &'static str,
        check: Check,
    ) -> Self {
        RouteDoc {
            method,
            path,
            tag,
            summary,
            auth: !matches!(check, Check::Public),
            check,
            body: None,
            binary: None,
            query: None,
            reply: Reply::Unspecified,
        }
    }

    /// The action's name (`coc:<module>:<verb>`), the module wildcard of an
    /// `…/actions` route (`coc:job:*`), or `""` for a public route.
    pub const fn action(&self) -> &'static str {
        match self.check {
            Check::Public => "",
            Check::Action(a) => a.as_str(),
            Check::BodyAction(w) => w,
        }
    }

    /// Takes a JSON body of type `T`.
    pub const fn body<T: utoipa::ToSchema>(mut self) -> Self {
        self.body = Some(schema::<T>);
        self
    }

    /// Takes a binary body of at most `limit` bytes.
    pub const fn binary_body(mut self, limit: usize) -> Self {
        self.binary = Some(limit);
        self
    }

    /// Takes the fields of `T` in its query string.
    pub const fn query<T: utoipa::ToSchema>(mut self) -> Self {
        self.query = Some(schema::<T>);
        self
    }

    /// Answers 200 with a `T`.
    pub const fn ok<T: utoipa::ToSchema>(mut self) -> Self {
        self.reply = Reply::Json(200, schema::<T>);
        self
    }

    /// Answers 201 with the created `T`.
    pub const fn created<T: utoipa::ToSchema>(mut self) -> Self {
        self.reply = Reply::Json(201, schema::<T>);
        self
    }

    /// Answers 202 with `T` (accepted for processing, as PagerDuty's
    /// Events API answers).
    pub const fn accepted<T: utoipa::ToSchema>(mut self) -> Self {
        self.reply = Reply::Json(202, schema::<T>);
        self
    }

    /// Answers 200 with a list (or page) of `T`.
    pub const fn list<T: utoipa::ToSchema>(mut self) -> Self {
        self.reply = Reply::List(schema::<T>);
        self
    }

    /// Answers 204 without a body.
    pub const fn no_content(mut self) -> Self {
        self.reply = Reply::NoContent;
        self
    }

    /// Answers 200 with a body of media type `media`.
    pub const fn media(mut self, media: &'static str) -> Self {
        self.reply = Reply::Media(media);
        self
    }
}

/// One route table entry: `route!(method, path, tag, summary, Action
/// [, body = T] [, query = T] [, ok = T | created = T | accepted = T | list = T]
/// [, no_content] [, media = "text/plain"])` where `Action` is a variant of
/// [`Action`]; `public` for routes without a token, `actions_of "coc:job:*"`
/// for `…/actions` routes.
macro_rules! route {
    ($m:literal, $p:literal, $t:literal, $s:literal, public $(, $($rest:tt)*)?) => {
        $crate::api::catalog::route!(@more $crate::api::catalog::RouteDoc::new(
            $m, $p, $t, $s, $crate::api::catalog::Check::Public); $($($rest)*)?)
    };
    ($m:literal, $p:literal, $t:literal, $s:literal, actions_of $w:literal $(, $($rest:tt)*)?) => {
        $crate::api::catalog::route!(@more $crate::api::catalog::RouteDoc::new(
            $m, $p, $t, $s, $crate::api::catalog::Check::BodyAction($w)); $($($rest)*)?)
    };
    ($m:literal, $p:literal, $t:literal, $s:literal, $a:ident $(, $($rest:tt)*)?) => {
        $crate::api::catalog::route!(@more $crate::api::catalog::RouteDoc::new(
            $m, $p, $t, $s,
            $crate::api::catalog::Check::Action(coc_domain::access::Action::$a)); $($($rest)*)?)
    };
    (@more $e:expr; ) => { $e };
    (@more $e:expr; no_content $(, $($rest:tt)*)?) => {
        $crate::api::catalog::route!(@more $e.no_content(); $($($rest)*)?)
    };
    (@more $e:expr; media = $v:literal $(, $($rest:tt)*)?) => {
        $crate::api::catalog::route!(@more $e.media($v); $($($rest)*)?)
    };
    (@more $e:expr; $k:ident = $v:ty $(, $($rest:tt)*)?) => {
        $crate::api::catalog::route!(@more $e.$k::<$v>(); $($($rest)*)?)
    };
}
pub(crate) use route;
