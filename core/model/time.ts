/** AWS JSON 1.1 carries timestamps as epoch seconds (fractions allowed); SDKs turn them into Dates. */
export const epochSeconds = (iso: string | undefined): number | undefined =>
  iso === undefined ? undefined : Date.parse(iso) / 1000;
