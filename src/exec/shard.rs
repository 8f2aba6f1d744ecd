//! `--shard i/N`: the deterministic share of a sweep's trials that one array task runs. Trials
//! are ranked by key and dealt round robin, so every task gets the same number of trials (±1),
//! a requeued task gets exactly the trials it had, and a trial belongs to exactly one task.

use anyhow::{bail, Result};
use std::fmt;
use std::str::FromStr;

/// Task `index` of `count` (0-based, as Slurm's `SLURM_ARRAY_TASK_ID` of `--array=0-(N-1)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Shard> {
        let hint = "expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. --shard 0/4 (Slurm: --shard $SLURM_ARRAY_TASK_ID/4)";
        let Some((i, n)) = text.split_once('/') else {
            bail!("--shard {text}: {hint}");
        };
        let (Ok(index), Ok(count)) = (i.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            bail!("--shard {text}: {hint}");
        };
        if count == 0 || index >= count {
            bail!("--shard {text}: {hint}");
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The keys of `all_keys` this shard owns, as a set for quick lookups.
    pub fn share<'a>(&self, all_keys: &[&'a str]) -> std::collections::HashSet<&'a str> {
        let mut sorted: Vec<&str> = all_keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        sorted
            .into_iter()
            .enumerate()
            .filter(|(rank, _)| rank % self.count == self.index)
            .map(|(_, k)| k)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_keys_evenly_whatever_their_order() {
        let keys: Vec<String> = (0..11)
            .map(|i| format!("{:04x}", i * 7919 % 65536))
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut reversed = keys.clone();
        reversed.reverse();
        let mut seen = std::collections::HashSet::new();
        for index in 0..4 {
            let shard = Shard { index, count: 4 };
            let share = shard.share(&keys);
            assert_eq!(share, shard.share(&reversed), "independent of order");
            assert!((2..=3).contains(&share.len()), "{share:?}");
            for k in share {
                assert!(seen.insert(k), "{k} in two shards");
            }
        }
        assert_eq!(seen.len(), keys.len());
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert_eq!(Shard { index: 2, count: 4 }.to_string(), "2/4");
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            let err = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains("INDEX/COUNT"), "{bad}: {err}");
        }
    }
}
