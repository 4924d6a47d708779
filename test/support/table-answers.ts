/** What Table storage answers, as the tests' transports hand it to the SDK: status, body and its content type. */
export interface TableAnswer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

/** The service's OData error body, as the whole answer or inside a changeset. */
export const odataError = (code: string, message: string): string => JSON.stringify({ 'odata.error': { code, message: { lang: 'en-US', value: message } } });

/** A whole request refused: its status and OData error. */
export const refused = (status: number, code: string, message: string): TableAnswer => ({ status, contentType: 'application/json', body: odataError(code, message) });

/** One insert of a changeset written. */
export const NO_CONTENT = 'HTTP/1.1 204 No Content\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\nDataServiceVersion: 3.0;\r\n';

/** One operation of a changeset failed: `status` is the status line's code and reason (`"409 Conflict"`). */
export const failedInChangeset = (status: string, code: string, message: string): string =>
  `HTTP/1.1 ${status}\r\nContent-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8\r\n\r\n${odataError(code, message)}`;

/** A transaction's answer: 202 outside, one part per sub-response inside its changeset. */
export const changesetAnswer = (...subResponses: string[]): TableAnswer => ({
  status: 202,
  contentType: 'multipart/mixed; boundary=batchresponse_7',
  body:
    '--batchresponse_7\r\nContent-Type: multipart/mixed; boundary=changesetresponse_7\r\n\r\n' +
    subResponses.map((s) => `--changesetresponse_7\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n${s}\r\n`).join('') +
    '--changesetresponse_7--\r\n--batchresponse_7--\r\n',
});
