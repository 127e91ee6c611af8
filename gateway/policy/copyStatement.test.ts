import { describe, expect, it } from 'vitest';
import { copyOutStatements as copyOutStatementsOf } from './copyStatement.ts';
import { loadSqlParser } from './sqlParse.ts';

const parser = await loadSqlParser();
/** The COPY statements of a text, parsed as a session parses it. */
const copyOutStatements = (sql: string) => copyOutStatementsOf(parser.parse(sql));

describe('copyOutStatements', () => {
  it('finds each COPY TO with its target, format and a query for its columns', () => {
    const found = copyOutStatements(
      `SELECT 1; COPY public."Cust" (id, "E-mail") TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';');
       copy people to stdout; COPY people FROM STDIN`,
    );
    expect(found).toEqual([
      {
        target: 'stdout',
        format: { kind: 'csv', delimiter: ';', null: '', quote: '"', escape: '"', header: true },
        encoding: undefined,
        describeSql: 'SELECT "id", "E-mail" FROM "public"."Cust"',
        first: false,
      },
      {
        target: 'stdout',
        format: {
          kind: 'text',
          delimiter: '\t',
          null: '\\N',
          quote: '"',
          escape: '"',
          header: false,
        },
        encoding: undefined,
        describeSql: 'SELECT * FROM "people"',
        first: false,
      },
    ]);
  });

  it("takes a COPY (query)'s own text, however many parentheses it holds", () => {
    const [copy] = copyOutStatements(
      "COPY (SELECT lower(email), ')' AS x FROM people WHERE (id = 1)) TO STDOUT (FORMAT csv)",
    ) as Exclude<ReturnType<typeof copyOutStatements>, 'unparsed'>;
    expect(copy?.describeSql).toBe("SELECT lower(email), ')' AS x FROM people WHERE (id = 1)");
  });

  it('tells binary, files, programs and encodings apart', () => {
    const found = copyOutStatements(
      "COPY t TO STDOUT BINARY; COPY t TO '/tmp/x'; COPY t TO PROGRAM 'cat'; COPY t TO STDOUT (ENCODING 'LATIN1')",
    );
    expect(found).toMatchObject([
      { target: 'stdout', format: 'binary' },
      { target: 'file' },
      { target: 'program' },
      { target: 'stdout', encoding: 'LATIN1' },
    ]);
  });

  it('says when the text is not SQL PostgreSQL accepts', () => {
    expect(copyOutStatements('COPY TO nowhere (')).toBe('unparsed');
  });
});
