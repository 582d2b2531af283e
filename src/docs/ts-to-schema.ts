/**
 * A small TypeScript type → JSON Schema converter, enough for the socket protocol's types
 * (src/gateway/protocol.ts): primitives, literals, unions, arrays, object types with optional and
 * documented properties, and named interfaces as `$ref`s. Anything else fails loudly, so a protocol
 * change the generator cannot describe is noticed instead of silently documented as `{}`.
 */
import ts from 'typescript';

export type JsonSchema = Record<string, unknown>;

export class SchemaBuilder {
  /** Named types met so far (interfaces of protocol.ts): emitted as components. */
  readonly named = new Map<string, JsonSchema>();

  constructor(
    private readonly checker: ts.TypeChecker,
    /** Interfaces declared in these files become `$ref`s to a component of their name. */
    private readonly refFiles: ReadonlySet<string>,
    private readonly refPrefix = '#/components/schemas/',
  ) {}

  /** JSDoc of a symbol, as one line. */
  doc(sym: ts.Symbol | undefined): string | undefined {
    if (!sym) return undefined;
    const text = ts.displayPartsToString(sym.getDocumentationComment(this.checker)).replace(/\s+/g, ' ').trim();
    return text || undefined;
  }

  /** The schema of `type`; `where` names the place for error messages. */
  schema(type: ts.Type, where: string): JsonSchema {
    const f = type.flags;
    if (f & ts.TypeFlags.Unknown || f & ts.TypeFlags.Any) return {};
    if (f & ts.TypeFlags.StringLiteral) return { type: 'string', const: (type as ts.StringLiteralType).value };
    if (f & ts.TypeFlags.NumberLiteral) return { type: 'number', const: (type as ts.NumberLiteralType).value };
    if (f & ts.TypeFlags.BooleanLiteral) return { type: 'boolean', const: this.checker.typeToString(type) === 'true' };
    if (f & ts.TypeFlags.String) return { type: 'string' };
    if (f & ts.TypeFlags.Number) return { type: 'number' };
    if (f & ts.TypeFlags.Boolean) return { type: 'boolean' };
    if (f & ts.TypeFlags.Null) return { type: 'null' };
    // `string & {}`: any string (keeps editor hints for the listed literals).
    if (type.isIntersection() && type.types.some((t) => t.flags & ts.TypeFlags.String)) return { type: 'string' };
    if (type.isUnion()) return this.union(type, where);
    if (this.checker.isArrayType(type)) {
      const [item] = this.checker.getTypeArguments(type as ts.TypeReference);
      return { type: 'array', items: this.schema(item, `${where}[]`) };
    }
    if (f & ts.TypeFlags.Object) return this.objectOrRef(type, where);
    throw new Error(`${where}: cannot describe the type ${this.checker.typeToString(type)} in the AsyncAPI document`);
  }

  private union(type: ts.UnionType, where: string): JsonSchema {
    // `undefined` in a union is an optional property's, handled by `required`.
    const parts = type.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined));
    if (parts.every((t) => t.flags & ts.TypeFlags.StringLiteral)) {
      return { type: 'string', enum: parts.map((t) => (t as ts.StringLiteralType).value) };
    }
    // `boolean` is the union true | false.
    if (parts.length === 2 && parts.every((t) => t.flags & ts.TypeFlags.BooleanLiteral)) return { type: 'boolean' };
    const literals = parts.filter((t) => t.flags & ts.TypeFlags.StringLiteral);
    const rest = parts.filter((t) => !(t.flags & ts.TypeFlags.StringLiteral));
    // 'typing' | 'presence' | (string & {}): a string with known values.
    if (literals.length && rest.length === 1 && rest[0].isIntersection()) {
      return { type: 'string', examples: literals.map((t) => (t as ts.StringLiteralType).value) };
    }
    if (parts.length === 1) return this.schema(parts[0], where);
    return { oneOf: parts.map((t, i) => this.schema(t, `${where}|${i}`)) };
  }

  private objectOrRef(type: ts.Type, where: string): JsonSchema {
    const sym = type.aliasSymbol ?? type.getSymbol();
    const decl = sym?.declarations?.[0];
    const name = sym?.getName();
    if (decl && name && ts.isInterfaceDeclaration(decl) && this.refFiles.has(decl.getSourceFile().fileName)) {
      if (!this.named.has(name)) {
        this.named.set(name, {}); // placeholder first: recursion ends here
        this.named.set(name, this.object(type, name, sym));
      }
      return { $ref: `${this.refPrefix}${name}` };
    }
    return this.object(type, where, undefined);
  }

  /** An object type with its properties (interfaces' `extends` included). */
  object(type: ts.Type, where: string, sym: ts.Symbol | undefined): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const p of this.checker.getPropertiesOfType(type)) {
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      if (!decl) throw new Error(`${where}.${p.getName()}: no declaration`);
      const pt = this.checker.getTypeOfSymbolAtLocation(p, decl);
      const s = this.schema(pt, `${where}.${p.getName()}`);
      const d = this.doc(p);
      properties[p.getName()] = d ? { ...s, description: d } : s;
      if (!(p.flags & ts.SymbolFlags.Optional)) required.push(p.getName());
    }
    const d = this.doc(sym);
    return { type: 'object', ...(d ? { description: d } : {}), properties, required };
  }
}
