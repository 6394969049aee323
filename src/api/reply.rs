//! How handlers shape an answer beyond its JSON body.

use actix_web::{HttpResponse, HttpResponseBuilder};

/// 201 when the call created the record, 200 when it existed.
pub fn created_or_ok(created: bool) -> HttpResponseBuilder {
    if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
}
