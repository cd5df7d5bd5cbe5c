//! Rule files and events the end-to-end tests use.

use serde_json::{json, Value};

/// Dedup rules: the seed's message event, a 45 s sliding window, trim/lowercase/collapse.
pub const DEDUP_RULES: &str = r#"
version: 1
normalizers:
  chat_text: [trim, lowercase, collapse_whitespace]
events:
  message_created:
    type: conversations.messages.messageCreated
    dedup: true
dedup:
  default:
    window: 45s
    mode: sliding
    fingerprint: [sender, content]
    normalizer: chat_text
"#;

/// Routing rules against the mock inventory at `inventory` (no environment substitution, so
/// tests running in parallel do not share settings).
pub fn routing_rules(inventory: &str) -> String {
    format!(
        r#"
version: 1
events:
  routing_interaction_created:
    type: routing.interaction.created
    route: inventory
routing:
  inventory:
    sku:
      template: "SKU-{{media_type|upper}}-{{interaction_id|last:6}}"
    inventory:
      url: "{inventory}/products/{{sku}}"
      timeout: 300ms
      status_at: /status
      breaker:
        failures: 3
        open_for: 30s
    statuses:
      in_stock:
        skills: [skill-premium-support-id]
      low_stock:
        skills: [skill-expedited-support-id]
      out_of_stock:
        queues: [queue-general-support-id]
    unknown:
      queues: [queue-unknown-id]
    fallback:
      queues: [queue-fallback-id]
"#
    )
}

/// A seed dedup event.
pub fn message(interaction: &str, sender: &str, content: &str, sequence: i64) -> Value {
    json!({
        "type": "conversations.messages.messageCreated",
        "data": {"message": {
            "interactionId": interaction,
            "senderId": sender,
            "content": content,
            "sequenceNumber": sequence,
        }}
    })
}

/// A seed routing event.
pub fn routing_event(interaction: &str, media: &str) -> Value {
    json!({
        "event_type": "routing.interaction.created",
        "timestamp": "2024-05-15T10:30:00Z",
        "data": {"interactionId": interaction, "mediaType": media, "channel": "phone",
                 "routing": {"skills": [], "queues": []}}
    })
}
