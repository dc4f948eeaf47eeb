//! Turning a wave's dependency DAG into nested sequence/parallel blocks.
//!
//! Step Functions has no "start when these finish" join, only Parallel (all branches
//! end together) and sequence. Series-parallel DAGs map onto that exactly. In any other
//! DAG the few edges that nesting cannot express become *waits*: the dependent polls the
//! progress record its dependency writes, so every edge is honoured and nothing is
//! serialized beyond the plan. Launches are not cut into rounds: every group starts when
//! its dependencies allow, and one DRS refuses for quota waits for a freed job slot.

use crate::validate::{Resolved, ResolvedWave, Stage, UnitId, graph_reachability};

/// DRS quotas: servers per StartRecovery job, jobs and servers in flight per account.
pub const MAX_SERVERS_PER_JOB: usize = 100;
pub const MAX_JOBS_IN_FLIGHT: usize = 20;
pub const MAX_SERVERS_IN_FLIGHT: usize = 500;

/// A contiguous part of one unit's progress: from just after `from` up to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub unit: UnitId,
    pub from: Option<Stage>,
    pub to: Stage,
}

impl Segment {
    pub fn launches(&self) -> bool {
        self.from.is_none()
    }
    pub fn covers(&self, stage: Stage) -> bool {
        self.from.is_none_or(|from| from < stage) && stage <= self.to
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    Segment(usize),
    Seq(Vec<Flow>),
    Par(Vec<Flow>),
}

/// How a wave's compiled flow departs from plain nesting.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Serialization {
    /// Dependencies (awaited, waiting) honoured by polling progress records, because
    /// nesting cannot express them without ordering more than the plan asks.
    pub waits: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WaveFlow {
    pub segments: Vec<Segment>,
    pub flow: Flow,
    /// (waiting segment, awaited segment): the first starts only once the second's unit
    /// has recorded the second's end stage.
    pub waits: Vec<(usize, usize)>,
    pub serialization: Serialization,
}

pub fn plan_wave(resolved: &Resolved, wave: &ResolvedWave) -> WaveFlow {
    let mut segments = Vec::new();
    let mut first_segment = std::collections::HashMap::new();
    let mut segment_edges = Vec::new();
    for &unit_id in &wave.units {
        let unit = &resolved.units[unit_id];
        let mut from = None;
        let ends = unit.cuts.iter().copied().chain([unit.final_stage()]);
        let mut previous: Option<usize> = None;
        for to in ends {
            let index = segments.len();
            segments.push(Segment {
                unit: unit_id,
                from,
                to,
            });
            match previous {
                Some(prev) => segment_edges.push((prev, index)),
                None => {
                    first_segment.insert(unit_id, index);
                }
            }
            previous = Some(index);
            from = Some(to);
        }
    }
    for edge in &wave.edges {
        let source = segments
            .iter()
            .position(|s| s.unit == edge.from && s.covers(edge.stage));
        if let (Some(source), Some(&target)) = (source, first_segment.get(&edge.to)) {
            segment_edges.push((source, target));
        }
    }
    let mut waits = Vec::new();
    let all: Vec<usize> = (0..segments.len()).collect();
    let flow = decompose(&all, &segment_edges, &mut waits);
    waits.sort_unstable();
    waits.dedup();
    let serialization = Serialization {
        waits: waits
            .iter()
            .map(|&(waiting, awaited)| {
                (
                    resolved.units[segments[awaited].unit].label.clone(),
                    resolved.units[segments[waiting].unit].label.clone(),
                )
            })
            .collect(),
    };
    WaveFlow {
        segments,
        flow,
        waits,
        serialization,
    }
}

/// Splits `nodes` into parallel components, or into a series cut (A then B) that orders
/// nothing the edges do not. Where neither exists the graph is not series-parallel: the
/// in-edges of one node become waits (`(waiting, awaited)`), and the rest is split again.
fn decompose(nodes: &[usize], edges: &[(usize, usize)], waits: &mut Vec<(usize, usize)>) -> Flow {
    if let [only] = nodes {
        return Flow::Segment(*only);
    }
    let inside: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|(a, b)| nodes.contains(a) && nodes.contains(b))
        .collect();
    let parts = components(nodes, &inside);
    if parts.len() > 1 {
        return Flow::Par(parts.iter().map(|c| decompose(c, &inside, waits)).collect());
    }
    if let Some((before, after)) = exact_cut(nodes, &inside) {
        let mut seq = Vec::new();
        for part in [before, after] {
            match decompose(&part, &inside, waits) {
                Flow::Seq(items) => seq.extend(items),
                other => seq.push(other),
            }
        }
        return Flow::Seq(seq);
    }
    // Prefer the node whose in-edges, once waited on, leave a cut or a split; among
    // those (or all, if none does), the one with the fewest in-edges.
    let candidates: Vec<usize> = nodes
        .iter()
        .copied()
        .filter(|&n| inside.iter().any(|&(_, b)| b == n))
        .collect();
    let without = |v: usize| -> Vec<(usize, usize)> {
        inside.iter().copied().filter(|&(_, b)| b != v).collect()
    };
    let in_degree = |v: usize| inside.iter().filter(|&&(_, b)| b == v).count();
    let progress = |v: usize| {
        let rest = without(v);
        components(nodes, &rest).len() > 1 || exact_cut(nodes, &rest).is_some()
    };
    let chosen = candidates
        .iter()
        .copied()
        .filter(|&v| progress(v))
        .min_by_key(|&v| in_degree(v))
        .or_else(|| candidates.iter().copied().min_by_key(|&v| in_degree(v)));
    let Some(v) = chosen else {
        // Connected nodes always have an edge; keep every node anyway, in order.
        return Flow::Seq(nodes.iter().map(|&n| Flow::Segment(n)).collect());
    };
    waits.extend(
        inside
            .iter()
            .filter(|&&(_, b)| b == v)
            .map(|&(a, b)| (b, a)),
    );
    decompose(nodes, &without(v), waits)
}

/// A series cut A | B such that every node of A reaches every node of B (so running A
/// before B adds no ordering): A is the ancestors of some node.
fn exact_cut(nodes: &[usize], edges: &[(usize, usize)]) -> Option<(Vec<usize>, Vec<usize>)> {
    let index: std::collections::HashMap<usize, usize> =
        nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let local: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a)?, *index.get(b)?)))
        .collect();
    let reach = graph_reachability(nodes.len(), &local);
    let mut best: Option<(Vec<usize>, Vec<usize>)> = None;
    for b in 0..nodes.len() {
        let before: Vec<usize> = (0..nodes.len()).filter(|&a| reach[a][b]).collect();
        if before.is_empty() {
            continue;
        }
        let after: Vec<usize> = (0..nodes.len()).filter(|n| !before.contains(n)).collect();
        let exact = before.iter().all(|&a| after.iter().all(|&r| reach[a][r]));
        if exact && best.as_ref().is_none_or(|(a, _)| before.len() < a.len()) {
            best = Some((before, after));
        }
    }
    best.map(|(a, b)| {
        (
            a.into_iter().map(|i| nodes[i]).collect(),
            b.into_iter().map(|i| nodes[i]).collect(),
        )
    })
}

fn components(nodes: &[usize], edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut component: std::collections::HashMap<usize, usize> =
        nodes.iter().map(|&n| (n, n)).collect();
    fn root(component: &mut std::collections::HashMap<usize, usize>, n: usize) -> usize {
        let mut r = n;
        while component[&r] != r {
            r = component[&r];
        }
        component.insert(n, r);
        r
    }
    for &(a, b) in edges {
        if component.contains_key(&a) && component.contains_key(&b) {
            let (ra, rb) = (root(&mut component, a), root(&mut component, b));
            if ra != rb {
                component.insert(ra.max(rb), ra.min(rb));
            }
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for &n in nodes {
        let r = root(&mut component, n);
        match groups.iter_mut().find(|(gr, _)| *gr == r) {
            Some((_, members)) => members.push(n),
            None => groups.push((r, vec![n])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow_of(n: usize, edges: &[(usize, usize)]) -> (Flow, Vec<(usize, usize)>) {
        let mut waits = Vec::new();
        let nodes: Vec<usize> = (0..n).collect();
        (decompose(&nodes, edges, &mut waits), waits)
    }

    #[test]
    fn chain_is_a_sequence() {
        let (flow, added) = flow_of(3, &[(0, 1), (1, 2)]);
        assert_eq!(
            flow,
            Flow::Seq(vec![Flow::Segment(0), Flow::Segment(1), Flow::Segment(2)])
        );
        assert!(added.is_empty());
    }

    #[test]
    fn diamond_is_series_parallel() {
        let (flow, added) = flow_of(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        assert_eq!(
            flow,
            Flow::Seq(vec![
                Flow::Segment(0),
                Flow::Par(vec![Flow::Segment(1), Flow::Segment(2)]),
                Flow::Segment(3)
            ])
        );
        assert!(added.is_empty());
    }

    #[test]
    fn n_shape_waits_instead_of_ordering() {
        // a→c, b→c, b→d: the classic non-series-parallel "N". d waits for b; a and b
        // run together, then c; d runs beside them.
        let (flow, waits) = flow_of(4, &[(0, 2), (1, 2), (1, 3)]);
        assert_eq!(waits, vec![(3, 1)]);
        assert_eq!(
            flow,
            Flow::Par(vec![
                Flow::Seq(vec![
                    Flow::Par(vec![Flow::Segment(0), Flow::Segment(1)]),
                    Flow::Segment(2)
                ]),
                Flow::Segment(3)
            ])
        );
    }

    #[test]
    fn independent_nodes_run_in_parallel() {
        let (flow, _) = flow_of(2, &[]);
        assert_eq!(flow, Flow::Par(vec![Flow::Segment(0), Flow::Segment(1)]));
    }
}
