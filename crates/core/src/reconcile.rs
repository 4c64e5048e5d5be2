//! Reconciliation: what the contact centre says happened, against what the
//! vault holds.

use chrono::{DateTime, NaiveDate, Utc};

use crate::id::ConversationId;

/// A conversation the contact centre says ended: one row of Genesys's
/// analytics conversation-details listing, after de-duplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedConversation {
    pub conversation_id: ConversationId,
    /// `conversationStart`. Genesys files conversations under the UTC day
    /// they started, so the reconcile report does too.
    pub start: DateTime<Utc>,
    /// `conversationEnd`.
    pub end: Option<DateTime<Utc>>,
}

impl ExpectedConversation {
    /// The UTC day it is reported under (its start).
    pub fn day(&self) -> NaiveDate {
        self.start.date_naive()
    }
}
