//! The plan as a graph (Mermaid or DOT): waves as clusters, launch units as nodes,
//! dependencies as labelled edges, waves chained in order.

use crate::validate::Resolved;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
}

fn node_id(unit: usize) -> String {
    format!("u{unit}")
}

fn quote_mermaid(text: &str) -> String {
    text.replace('"', "#quot;")
}

fn quote_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn render(resolved: &Resolved, format: Format) -> String {
    match format {
        Format::Mermaid => mermaid(resolved),
        Format::Dot => dot(resolved),
    }
}

fn unit_text(resolved: &Resolved, unit: usize) -> String {
    let u = &resolved.units[unit];
    let servers = u.servers.len();
    let mut text = format!(
        "{} ({servers} server{})",
        u.label,
        if servers == 1 { "" } else { "s" }
    );
    if u.criticality == crate::model::Criticality::Optional {
        text.push_str(", optional");
    }
    text
}

fn mermaid(resolved: &Resolved) -> String {
    let mut out = String::from("flowchart TD\n");
    for wave in &resolved.waves {
        let _ = writeln!(
            out,
            "  subgraph w{}[\"Wave {} · {}\"]",
            wave.index + 1,
            wave.index + 1,
            quote_mermaid(&wave.name)
        );
        for step in &wave.before {
            let _ = writeln!(out, "    %% before: {}", step.kind());
        }
        for &unit in &wave.units {
            let _ = writeln!(
                out,
                "    {}[\"{}\"]",
                node_id(unit),
                quote_mermaid(&unit_text(resolved, unit))
            );
        }
        let _ = writeln!(out, "  end");
    }
    for pair in resolved.waves.windows(2) {
        let _ = writeln!(out, "  w{} ==> w{}", pair[0].index + 1, pair[1].index + 1);
    }
    for edge in &resolved.all_edges {
        let _ = writeln!(
            out,
            "  {} -->|{}| {}",
            node_id(edge.from),
            edge.stage.as_str(),
            node_id(edge.to)
        );
    }
    out
}

fn dot(resolved: &Resolved) -> String {
    let mut out =
        String::from("digraph plan {\n  rankdir=TB;\n  compound=true;\n  node [shape=box];\n");
    for wave in &resolved.waves {
        let _ = writeln!(out, "  subgraph cluster_w{} {{", wave.index + 1);
        let _ = writeln!(
            out,
            "    label=\"Wave {} · {}\";",
            wave.index + 1,
            quote_dot(&wave.name)
        );
        for &unit in &wave.units {
            let style = if resolved.units[unit].criticality == crate::model::Criticality::Optional {
                ", style=dashed"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\"{style}];",
                node_id(unit),
                quote_dot(&unit_text(resolved, unit))
            );
        }
        let _ = writeln!(out, "  }}");
    }
    for pair in resolved.waves.windows(2) {
        if let (Some(&a), Some(&b)) = (pair[0].units.first(), pair[1].units.first()) {
            let _ = writeln!(
                out,
                "  {} -> {} [ltail=cluster_w{}, lhead=cluster_w{}, style=bold];",
                node_id(a),
                node_id(b),
                pair[0].index + 1,
                pair[1].index + 1
            );
        }
    }
    for edge in &resolved.all_edges {
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\"];",
            node_id(edge.from),
            node_id(edge.to),
            edge.stage.as_str()
        );
    }
    out.push_str("}\n");
    out
}
