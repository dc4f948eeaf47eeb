//! Small directed-graph helpers over node indices `0..n`.

/// A cycle, as the nodes along it (first node not repeated), or `None` for a DAG.
pub(crate) fn find_cycle(n: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut adjacency = vec![Vec::new(); n];
    for &(from, to) in edges {
        adjacency[from].push(to);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut mark = vec![Mark::New; n];
    // Iterative DFS: plans are small, but input must never overflow the stack.
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnStack;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&succ) = adjacency[node].get(*next) {
                *next += 1;
                match mark[succ] {
                    Mark::New => {
                        mark[succ] = Mark::OnStack;
                        stack.push((succ, 0));
                    }
                    Mark::OnStack => {
                        let start = stack.iter().position(|&(n, _)| n == succ).unwrap_or(0);
                        return Some(stack[start..].iter().map(|&(n, _)| n).collect());
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// Transitive closure as reachability rows: `reach[a][b]` is true when a path a→b exists.
pub fn reachability(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<bool>> {
    let mut adjacency = vec![Vec::new(); n];
    for &(from, to) in edges {
        adjacency[from].push(to);
    }
    let mut reach = vec![vec![false; n]; n];
    for (start, row) in reach.iter_mut().enumerate() {
        let mut stack = adjacency[start].clone();
        while let Some(node) = stack.pop() {
            if !row[node] {
                row[node] = true;
                stack.extend(adjacency[node].iter().copied());
            }
        }
    }
    reach
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cycles() {
        assert_eq!(find_cycle(3, &[(0, 1), (1, 2)]), None);
        let cycle = find_cycle(3, &[(0, 1), (1, 2), (2, 1)]).unwrap();
        assert_eq!(cycle, vec![1, 2]);
        assert_eq!(find_cycle(1, &[(0, 0)]), Some(vec![0]));
    }

    #[test]
    fn reachability_is_transitive() {
        let reach = reachability(3, &[(0, 1), (1, 2)]);
        assert!(reach[0][2]);
        assert!(!reach[2][0]);
    }
}
