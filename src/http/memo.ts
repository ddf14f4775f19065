/**
 * A bounded memo for pure functions of a string that sit on the per-request path: status lines, header
 * names and Host values repeat from one request to the next. Cleared when full, so memory stays bounded
 * whatever clients send.
 */
export function memoize<T>(fn: (key: string) => T, limit = 1024): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined && !cache.has(key)) {
      value = fn(key);
      if (cache.size >= limit) cache.clear();
      cache.set(key, value);
    }
    return value as T;
  };
}
