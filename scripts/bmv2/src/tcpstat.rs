//! A namespace's TCP segment counters (`nstat`), so a report can show
//! how many segments the backends retransmitted.

use std::collections::HashMap;

use anyhow::Result;

use crate::netns::Netns;

/// `TcpOutSegs` and `TcpRetransSegs` of `ns`, absolute (`nstat -asz`:
/// the history file is not touched, zeros are listed).
pub fn segments(ns: &Netns) -> Result<HashMap<String, u64>> {
    let out = ns.exec(&["nstat", "-asz", "TcpOutSegs", "TcpRetransSegs"])?;
    let m = parse(&out);
    if !m.contains_key("TcpOutSegs") || !m.contains_key("TcpRetransSegs") {
        anyhow::bail!("nstat in {} printed no TcpOutSegs/TcpRetransSegs: {out:?}", ns.name());
    }
    Ok(m)
}

fn parse(out: &str) -> HashMap<String, u64> {
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// (segments sent, segments retransmitted) between two readings summed
/// over namespaces; fails when a pair is missing or a counter went back.
pub fn sent_and_retransmitted(before: &[HashMap<String, u64>], after: &[HashMap<String, u64>]) -> Result<(u64, u64), String> {
    if before.len() != after.len() {
        return Err(format!("{} readings before, {} after", before.len(), after.len()));
    }
    let (mut out, mut re) = (0, 0);
    for (b, a) in before.iter().zip(after) {
        let d = |k: &str| -> Result<u64, String> {
            let (b, a) = (b.get(k).ok_or(format!("no {k}"))?, a.get(k).ok_or(format!("no {k}"))?);
            a.checked_sub(*b).ok_or(format!("{k} went back from {b} to {a}"))
        };
        out += d("TcpOutSegs")?;
        re += d("TcpRetransSegs")?;
    }
    Ok((out, re))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nstat_and_sums_deltas() {
        let m = parse("#kernel\nTcpOutSegs                      1200               0.0\nTcpRetransSegs                  3                  0.0\n");
        assert_eq!((m["TcpOutSegs"], m["TcpRetransSegs"]), (1200, 3));
        let later = parse("TcpOutSegs 1500 0.0\nTcpRetransSegs 5 0.0\n");
        assert_eq!(sent_and_retransmitted(&[m.clone(), m.clone()], &[later.clone(), m.clone()]), Ok((300, 2)));
        assert!(sent_and_retransmitted(&[later.clone()], &[m.clone()]).unwrap_err().contains("went back"));
        assert!(sent_and_retransmitted(&[m.clone()], &[]).is_err());
        assert!(sent_and_retransmitted(&[HashMap::new()], &[m]).unwrap_err().contains("no TcpOutSegs"));
    }
}
