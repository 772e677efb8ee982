// The xdelta3 CLI writes an application header "target/tcomp/source/scomp" (or "target/tcomp" without a
// source) into every delta, where tcomp/scomp name an external compressor ("G" gzip, "B" bzip2, "Z" compress)
// the CLI ran on that file when it was made without -D. Decoding such a delta with the CLI re-compresses the
// output, which does not give back the original bytes, so the codec refuses these deltas.
// Parsing mirrors xdelta3-main.h main_get_appheader: split on "/" into at most 4 fields.
import { bytesToBinaryString } from "../encoding";

export interface AppHeader {
  fields: string[];
  targetCompression: string;
  sourceCompression: string;
}

export function parseAppHeader(bytes: Uint8Array): AppHeader {
  let text = bytesToBinaryString(bytes);
  const nul = text.indexOf("\0");
  if (nul >= 0) text = text.slice(0, nul); // the CLI reads it as a C string
  const fields: string[] = [];
  let rest = text;
  while (fields.length < 3) {
    const slash = rest.indexOf("/");
    if (slash < 0) break;
    fields.push(rest.slice(0, slash));
    rest = rest.slice(slash + 1);
  }
  fields.push(rest);
  const hasTarget = fields.length === 2 || fields.length === 4;
  return {
    fields,
    targetCompression: hasTarget ? fields[1] : "",
    sourceCompression: fields.length === 4 ? fields[3] : "",
  };
}
