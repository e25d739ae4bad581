//! The user a CHANNELS source's subscriber connection runs as. Redis 7.0 gives a module no way
//! to receive published messages, so each such source connects to its own server as a plain
//! client and PSUBSCRIBEs. It must not need any user's password (servers with `requirepass`,
//! or with the default user off, are the ones that matter), so at load the module creates a
//! module user that may only subscribe, and `KAFKA._SUBSCRIBER <token>` makes the connection
//! that user when it presents the process's secret token (`runtime::subscriber_token`).
//!
//! The user may run PSUBSCRIBE and CLIENT SETNAME on any channel and nothing else: no keys, no
//! PUBLISH. Module users are not in the ACL list, so no client can AUTH as it.

use crate::error::Error;
use crate::runtime::subscriber_token;
use redis_module::{raw, Context};
use std::ffi::CString;
use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The name CLIENT LIST shows in `user=` for subscriber connections.
pub const USER_NAME: &str = "kafka-subscriber";

/// Applied in order, one rule per call, as `ACL SETUSER` would: exactly the commands of the
/// subscriber's handshake (the connection is to this very process, so it needs no PING to
/// notice that the server went away).
const RULES: [&str; 6] = [
    "reset",
    "on",
    "resetchannels",
    "&*",
    "+psubscribe",
    "+client|setname",
];

static USER: AtomicPtr<raw::RedisModuleUser> = AtomicPtr::new(ptr::null_mut());

/// Makes the token and the user (at load). An error leaves CHANNELS sources unable to
/// subscribe (their handshake says why), nothing else.
pub fn create() -> Result<(), Error> {
    if !subscriber_token::init() {
        return Err(Error::Internal(
            "cannot read /dev/urandom for the subscriber token".to_string(),
        ));
    }
    if !USER.load(Ordering::Acquire).is_null() {
        return Ok(());
    }
    let api = unsafe {
        (
            raw::RedisModule_CreateModuleUser,
            raw::RedisModule_SetModuleUserACL,
            raw::RedisModule_FreeModuleUser,
            raw::RedisModule_AuthenticateClientWithUser,
        )
    };
    let (Some(create), Some(set_acl), Some(free), Some(_)) = api else {
        return Err(Error::Internal(
            "this server has no module user API (RM_CreateModuleUser)".to_string(),
        ));
    };
    let text = |s: &str| CString::new(s).map_err(|_| Error::Internal("NUL in a rule".into()));
    let name = text(USER_NAME)?;
    let user = unsafe { create(name.as_ptr()) };
    if user.is_null() {
        return Err(Error::Internal(
            "the server did not create the subscriber user".to_string(),
        ));
    }
    for rule in RULES {
        let applied = text(rule).map(|rule| unsafe { set_acl(user, rule.as_ptr()) });
        if applied.ok() != Some(raw::REDISMODULE_OK as c_int) {
            unsafe { free(user) };
            return Err(Error::Internal(format!(
                "the server refused the subscriber user's ACL rule '{rule}'"
            )));
        }
    }
    USER.store(user, Ordering::Release);
    Ok(())
}

/// `KAFKA._SUBSCRIBER`: makes the calling connection the subscriber user if `given` is the
/// token; otherwise an error and nothing changes.
pub fn authenticate(ctx: &Context, given: &[u8]) -> Result<(), Error> {
    if !subscriber_token::matches(given) {
        return Err(Error::Arg(
            "KAFKA._SUBSCRIBER: wrong token (the command is for the kafka module's own subscriber connections)"
                .to_string(),
        ));
    }
    let user = USER.load(Ordering::Acquire);
    let api = unsafe { raw::RedisModule_AuthenticateClientWithUser };
    let (Some(authenticate), false) = (api, user.is_null()) else {
        return Err(Error::Internal(
            "KAFKA._SUBSCRIBER: the module has no subscriber user (see the log from its load)"
                .to_string(),
        ));
    };
    let done = unsafe { authenticate(ctx.ctx, user, None, ptr::null_mut(), ptr::null_mut()) };
    if done != raw::REDISMODULE_OK as c_int {
        return Err(Error::Internal(
            "KAFKA._SUBSCRIBER: the server refused to authenticate the connection".to_string(),
        ));
    }
    Ok(())
}

/// MODULE UNLOAD: frees the user, which disconnects any connection still authenticated as it.
pub fn release() {
    let user = USER.swap(ptr::null_mut(), Ordering::AcqRel);
    if user.is_null() {
        return;
    }
    if let Some(free) = unsafe { raw::RedisModule_FreeModuleUser } {
        unsafe { free(user) };
    }
}
