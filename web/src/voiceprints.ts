// Enrolled voiceprints live in the browser's storage: the API returns a
// voiceprint and keeps none (as pyannoteAI's does). Export and import move
// them between browsers as a JSON file.

export interface Voiceprint {
  label: string;
  voiceprint: string;
}

const KEY = "whospoke.voiceprints";

export function list(): Voiceprint[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(v) ? v.filter(valid) : [];
  } catch {
    return [];
  }
}

function valid(v: unknown): v is Voiceprint {
  const o = v as Voiceprint;
  return typeof o?.label === "string" && typeof o?.voiceprint === "string";
}

function save(vs: Voiceprint[]) {
  localStorage.setItem(KEY, JSON.stringify(vs));
}

// add replaces an enrolment of the same name.
export function add(v: Voiceprint) {
  save([...list().filter((x) => x.label !== v.label), v]);
}

export function remove(label: string) {
  save(list().filter((x) => x.label !== label));
}

export function exportFile(): Blob {
  return new Blob([JSON.stringify({ voiceprints: list() }, null, 2)], { type: "application/json" });
}

// importFile merges a file written by exportFile and returns how many it held.
export async function importFile(f: File): Promise<number> {
  const bad = new Error(`Not a voiceprints file: “${f.name}” is not what “Export voiceprints” writes`);
  let data: unknown;
  try {
    data = JSON.parse(await f.text());
  } catch {
    throw bad; // the parser's words ("Unexpected token …") would not help
  }
  const vs: unknown = Array.isArray(data) ? data : (data as { voiceprints?: unknown } | null)?.voiceprints;
  if (!Array.isArray(vs) || !vs.every(valid)) throw bad;
  for (const v of vs) add(v);
  return vs.length;
}
