//! `cxrules generate-events` (hidden): writes synthetic recorded events — chat messages with
//! duplicates and late arrivals, CXone digital messages with re-deliveries, routing events,
//! other event types and optionally broken lines — for trying `replay` on large inputs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::tools::Status;

/// First event time: 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;

/// Flags of `cxrules generate-events`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// How many lines to write.
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    /// Where to write them (`-`: standard output).
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
    /// Seed of the pseudo-random choices (same seed, same file).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Make every Nth line broken JSON (0: none).
    #[arg(long, default_value_t = 0)]
    pub broken_every: u64,
    /// Also write an inventory file (YAML) answering for the generated SKUs.
    #[arg(long, value_name = "FILE")]
    pub inventory_out: Option<PathBuf>,
}

/// A small deterministic generator (xorshift64*): no dependency, same output everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Chat phrases; duplicates re-send one with other spacing and case.
const PHRASES: &[&str] = &[
    "Hello, I need help with my order",
    "Where is my package?",
    "Can I change the delivery address",
    "yes",
    "Thank you!",
    "The item arrived damaged",
    "I want a refund",
    "ok",
];

struct Generator {
    rng: Rng,
    now_ms: i64,
    sequence: Vec<i64>,
    /// The last chat message (interaction, phrase): a re-send repeats it moments later.
    last_chat: Option<(usize, &'static str)>,
    /// The last digital event: a re-delivery repeats it exactly.
    last_digital: Option<serde_json::Value>,
}

impl Generator {
    fn new(seed: u64) -> Self {
        Self {
            rng: Rng(seed.max(1)),
            now_ms: START_MS,
            sequence: vec![0; 2000],
            last_chat: None,
            last_digital: None,
        }
    }

    fn line(&mut self, n: u64) -> serde_json::Value {
        self.now_ms += 1 + self.rng.below(100) as i64;
        match self.rng.below(100) {
            0..=54 => self.chat(),
            55..=69 => self.digital(n),
            70..=94 => self.routing(),
            _ => json!({"type": "conversations.messages.messageUpdated", "timestamp": self.now_ms,
                        "data": {"message": {"interactionId": "int-0"}}}),
        }
    }

    fn chat(&mut self) -> serde_json::Value {
        let roll = self.rng.below(100);
        // A tenth re-send the last message with other spacing and case; a twentieth arrive late.
        let (i, content) = match self.last_chat {
            Some((i, phrase)) if roll < 10 => (i, format!("  {}  ", phrase.to_uppercase())),
            _ => {
                let i = self.rng.below(self.sequence.len() as u64) as usize;
                let phrase = PHRASES[self.rng.below(PHRASES.len() as u64) as usize];
                self.last_chat = Some((i, phrase));
                (i, phrase.to_string())
            }
        };
        let sequence = if roll >= 95 {
            (self.sequence[i] - 2).max(0)
        } else {
            self.sequence[i] += 1;
            self.sequence[i]
        };
        json!({"type": "conversations.messages.messageCreated", "timestamp": self.now_ms,
               "data": {"message": {"interactionId": format!("int-{i:06}"), "senderId": format!("cust-{}", i % 97),
                                    "content": content, "sequenceNumber": sequence}}})
    }

    fn digital(&mut self, n: u64) -> serde_json::Value {
        if let Some(previous) = self
            .last_digital
            .clone()
            .filter(|_| self.rng.below(10) == 0)
        {
            return previous;
        }
        let case = self.rng.below(5000);
        let text = PHRASES[self.rng.below(PHRASES.len() as u64) as usize];
        let event = json!({"eventId": format!("0f1e2d3c-0000-4000-8000-{n:012}"), "eventType": "MessageCreated",
               "createdAtWithMilliseconds": rfc3339(self.now_ms),
               "data": {"channel": {"id": "chat_51eafd7d"}, "case": {"interactionId": format!("case-{case:06}")},
                        "message": {"messageContent": {"type": "TEXT", "text": text},
                                    "authorEndUserIdentity": {"idOnExternalPlatform": format!("+1555{:04}", case % 1000)}}}});
        self.last_digital = Some(event.clone());
        event
    }

    fn routing(&mut self) -> serde_json::Value {
        let id = self.rng.below(1000);
        let media = ["voice", "chat", "email"][self.rng.below(3) as usize];
        json!({"event_type": "routing.interaction.created", "timestamp": self.now_ms,
               "data": {"interactionId": format!("int-{id:06}"), "mediaType": media}})
    }
}

/// `2026-01-01T00:00:00.000Z` from epoch milliseconds.
fn rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// Writes the events (and the inventory file when asked).
pub fn run(args: &GenerateArgs) -> anyhow::Result<Status> {
    let sink: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            File::create(&args.out)
                .with_context(|| format!("cannot create {}", args.out.display()))?,
        )
    };
    let mut out = BufWriter::with_capacity(1 << 16, sink);
    let mut generator = Generator::new(args.seed);
    for n in 1..=args.count {
        if args.broken_every > 0 && n % args.broken_every == 0 {
            writeln!(
                out,
                "{{\"type\": \"conversations.messages.messageCreated\", \"data\": "
            )?;
            continue;
        }
        serde_json::to_writer(&mut out, &generator.line(n))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if let Some(path) = &args.inventory_out {
        std::fs::write(path, inventory_yaml())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Status::Ok)
}

/// Answers for the generated SKUs: mostly statuses, some failures, some left unknown.
fn inventory_yaml() -> String {
    let answers = [
        "in_stock",
        "low_stock",
        "out_of_stock",
        "discontinued",
        "timeout",
        "{error: 503}",
    ];
    let mut text = String::new();
    for media in ["VOICE", "CHAT", "EMAIL"] {
        for id in 0..900u64 {
            let answer = answers[(id % answers.len() as u64) as usize];
            text.push_str(&format!("SKU-{media}-{id:06}: {answer}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::replay::parse_rfc3339;

    #[test]
    fn generated_times_round_trip_through_the_parser() {
        for ms in [
            0,
            START_MS,
            START_MS + 86_399_999,
            951_782_400_000,
            4_102_444_800_123,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms), "{}", rfc3339(ms));
        }
        assert_eq!(rfc3339(START_MS), "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_same_seed_gives_the_same_events() {
        let (mut a, mut b) = (Generator::new(7), Generator::new(7));
        for n in 1..50 {
            assert_eq!(a.line(n), b.line(n));
        }
    }
}
