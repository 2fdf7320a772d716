//! Topic names and the client settings every Kafka client here shares.

use rdkafka::ClientConfig;

/// The topics the pipeline uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Usage records, keyed by `user_credit_code`, value = the platform's raw bytes.
    pub records: String,
    /// Entities (compacted), keyed by credit code.
    pub entities: String,
    /// Compute centers (compacted), keyed by center id.
    pub centers: String,
    /// Records refused by the collector or the rules, with the reason in headers.
    pub dead_letter: String,
    /// Collector positions (compacted), keyed by collector id.
    pub checkpoints: String,
}

impl Default for Topics {
    fn default() -> Topics {
        Topics {
            records: "subsidy.usage-records".into(),
            entities: "subsidy.entities".into(),
            centers: "subsidy.compute-centers".into(),
            dead_letter: "subsidy.dead-letter".into(),
            checkpoints: "subsidy.collector-checkpoints".into(),
        }
    }
}

/// Where the bus is and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// Bootstrap servers, `host:port[,host:port]`.
    pub brokers: String,
    /// Topic names.
    pub topics: Topics,
    /// Partitions of the records topic when this pipeline creates it.
    pub record_partitions: i32,
}

/// How long a fetch may wait at the broker for data. A Kafka broker answers as
/// soon as it has data and waits only when a partition is idle; the broker used
/// in development (tansu 0.6) holds every fetch for the whole wait, so the
/// librdkafka default of 500 ms capped a consumer at a few tens of thousands of
/// messages a second there. 20 ms costs an idle consumer 50 empty fetches a second.
pub const FETCH_WAIT_MS: u32 = 20;

/// Client settings shared by producers, consumers and admin clients.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("client.id", "subsidy-meter")
        .set("socket.timeout.ms", "10000")
        .set("log_level", "3");
    c
}

/// Client settings for consumers: [`client_config`] and the fetch wait.
pub fn consumer_config(brokers: &str) -> ClientConfig {
    let mut c = client_config(brokers);
    c.set("fetch.wait.max.ms", FETCH_WAIT_MS.to_string());
    c
}
