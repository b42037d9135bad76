//! `tcp bench chat` (tcp-B writes this module).
