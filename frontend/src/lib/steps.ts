// An execution's progress records as an SRM-style step tree: wave by wave, the gates
// before a wave first, then its groups in the order they started, each followed by its
// own steps; every row with its depth for indentation.
// Keys: `w1.shop-db` (group), `w1.shop-db.step2` (a group's step), `w3.before1` (gate).

import type { StepRecord } from "./types";

export type TreeRow = StepRecord & { depth: number };

export function stepTree(records: StepRecord[]): TreeRow[] {
  const byKey = new Map(records.map((r) => [r.key, r]));
  const sortKey = (r: StepRecord): (number | string)[] => {
    const [wave = "", second = "", third = ""] = r.key.split(".");
    const w = Number(wave.replace(/^w/, "")) || 0;
    const gate = /^before(\d+)$/.exec(second);
    const after = /^after(\d+)$/.exec(second);
    const step = Number(/^step(\d+)$/.exec(third)?.[1] ?? 0);
    if (gate) return [w, 0, Number(gate[1]), "", step];
    if (after) return [w, 2, Number(after[1]), "", step];
    const group = byKey.get(`${wave}.${second}`);
    return [w, 1, 0, `${group?.startedAt ?? "~"}\u0000${second}`, step];
  };
  const compare = (a: (number | string)[], b: (number | string)[]) => {
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x !== y) return typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    }
    return 0;
  };
  return records
    .map((r) => ({ r, k: sortKey(r) }))
    .sort((a, b) => compare(a.k, b.k))
    .map(({ r }) => ({ ...r, depth: r.key.split(".").length - 2 }));
}
