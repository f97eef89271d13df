/**
 * Errors a client caused or must be told about, answered in OpenAI's JSON shape
 * (`{"error": {"message", "type", "param", "code"}}`), so the official clients raise their typed errors.
 */
export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'service_unavailable' | 'server_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ApiErrorType = defaultType(status),
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultType(status: number): ApiErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'service_unavailable';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** A 400 naming the request field (`param`) and what was expected of it. */
export function badParam(param: string, message: string): ApiError {
  return new ApiError(400, `${param}: ${message}`, param);
}
