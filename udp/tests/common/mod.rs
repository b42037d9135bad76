//! What the integration tests share beyond `support::require`: recognising a refused
//! network namespace, so that a test skips visibly (`support::skip!`) instead of failing.
#![allow(dead_code)]

/// True when a failed `ip` command's error text says it lacked the privilege (`EPERM`), as
/// `ip netns add` does for a user without `CAP_SYS_ADMIN` (a container, a user namespace).
pub fn is_permission_error(text: &str) -> bool {
    text.contains("Operation not permitted") || text.contains("Permission denied")
}
