/**
 * Response headers as PEP 3333 has them: an ordered list of (name, value) pairs where a name may repeat
 * (Set-Cookie), looked up case-insensitively (RFC 9110 §5.1). `toList()` is what start_response takes.
 */
import type { Header, HeaderList } from '../contract/types.js';

export type HeadersInit = Headers | HeaderList | Readonly<Record<string, string | readonly string[]>>;

export class Headers implements Iterable<Header> {
  #pairs: Array<[string, string]> = [];

  constructor(init?: HeadersInit) {
    if (init === undefined) return;
    if (init instanceof Headers || Array.isArray(init)) {
      for (const [name, value] of init as Iterable<Header>) this.append(name, value);
      return;
    }
    for (const [name, value] of Object.entries(init as Record<string, string | readonly string[]>)) {
      if (typeof value === 'string') this.append(name, value);
      else for (const one of value) this.append(name, one);
    }
  }

  /** The value of `name`; repeated fields are combined with ", " (RFC 9110 §5.3), except Set-Cookie's. */
  get(name: string): string | null {
    const all = this.getAll(name);
    if (all.length === 0) return null;
    return name.toLowerCase() === 'set-cookie' ? all[0]! : all.join(', ');
  }

  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    return this.#pairs.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.#pairs.some(([n]) => n.toLowerCase() === lower);
  }

  /** Replaces every field named `name` with one, kept where the first one was. */
  set(name: string, value: string): this {
    const lower = name.toLowerCase();
    const at = this.#pairs.findIndex(([n]) => n.toLowerCase() === lower);
    if (at === -1) this.#pairs.push([name, value]);
    else {
      this.#pairs[at] = [name, value];
      this.#pairs = this.#pairs.filter(([n], i) => i <= at || n.toLowerCase() !== lower);
    }
    return this;
  }

  /** Sets `name` only when it is not there yet. */
  setDefault(name: string, value: string): this {
    if (!this.has(name)) this.#pairs.push([name, value]);
    return this;
  }

  append(name: string, value: string): this {
    this.#pairs.push([name, value]);
    return this;
  }

  delete(name: string): this {
    const lower = name.toLowerCase();
    this.#pairs = this.#pairs.filter(([n]) => n.toLowerCase() !== lower);
    return this;
  }

  /** A snapshot for start_response. */
  toList(): Header[] {
    return this.#pairs.map(([n, v]) => [n, v] as const);
  }

  [Symbol.iterator](): Iterator<Header> {
    return this.toList()[Symbol.iterator]();
  }
}
