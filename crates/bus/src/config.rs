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
    /// The platform's usage counts (compacted), keyed `<center>@<day>`.
    pub usage_counts: String,
    /// Usage other schemes fund (compacted), keyed by `scheme|record:ID` or `scheme|contract:ID`.
    pub funded_elsewhere: String,
    /// Compute suppliers' claims (compacted), keyed by `record_id|supplier_credit_code`.
    pub supplier_claims: String,
}

impl Default for Topics {
    fn default() -> Topics {
        Topics {
            records: "subsidy.usage-records".into(),
            entities: "subsidy.entities".into(),
            centers: "subsidy.compute-centers".into(),
            dead_letter: "subsidy.dead-letter".into(),
            checkpoints: "subsidy.collector-checkpoints".into(),
            usage_counts: "subsidy.usage-counts".into(),
            funded_elsewhere: "subsidy.funded-elsewhere".into(),
            supplier_claims: "subsidy.supplier-claims".into(),
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

/// Client settings shared by producers, consumers and admin clients.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("client.id", "subsidy-meter")
        .set("socket.timeout.ms", "10000")
        .set("log_level", "3");
    c
}
