//! Reads a consumed record's headers by name through librdkafka itself. rdkafka's header
//! iterator unwraps every header name as UTF-8 and panics on one that is not, and any producer
//! can send such a name: a record must never be able to stop a bridge that way.

use crate::spec::record::HeaderLookup;
use rdkafka::bindings::{rd_kafka_header_get_last, rd_kafka_headers_t, rd_kafka_resp_err_t};
use rdkafka::message::BorrowedHeaders;
use std::ffi::{c_void, CStr};

/// The last header named `name`: `Some(None)` when its value is null.
pub fn last<'h>(headers: &'h BorrowedHeaders, name: &CStr) -> Option<Option<&'h [u8]>> {
    // rdkafka hands out `&BorrowedHeaders` as a cast of librdkafka's headers pointer.
    let native = headers as *const BorrowedHeaders as *const rd_kafka_headers_t;
    let mut value: *const c_void = std::ptr::null();
    let mut size: usize = 0;
    // SAFETY: `native` is the live headers object of a message borrowed for 'h; librdkafka
    // returns a pointer into it (or null for a null value) that lives as long as the message.
    let err = unsafe { rd_kafka_header_get_last(native, name.as_ptr(), &mut value, &mut size) };
    if err != rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return None;
    }
    if value.is_null() {
        return Some(None);
    }
    // SAFETY: as above; `size` bytes at `value` belong to the message.
    Some(Some(unsafe {
        std::slice::from_raw_parts(value as *const u8, size)
    }))
}

impl HeaderLookup for BorrowedHeaders {
    fn last(&self, name: &CStr) -> Option<Option<&[u8]>> {
        last(self, name)
    }
}
