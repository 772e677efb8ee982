// S3 orders keys by their UTF-8 bytes, which is code point order. JavaScript's `<` compares UTF-16 code units
// and disagrees for characters above U+FFFF versus U+E000..U+FFFF, so compare by code point.
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
