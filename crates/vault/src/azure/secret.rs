//! Account keys, SAS tokens and connection strings live in the core's
//! redacting [`Secret`] from the moment they are read: `Debug` and `Display`
//! never show them, and [`Secret::expose`] is used only where a request is signed.

pub(crate) use tvault_core::secret::Secret;
