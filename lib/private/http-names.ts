/** An HTTP header name: an RFC 9110 token. */
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** A webhook path under a stage or domain: URL-safe segments separated by '/', such as `hooks/github`. */
export const WEBHOOK_PATH = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;
