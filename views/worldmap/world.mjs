// Builds ../static/world.json, the world map of the Countries page: the
// country borders of Natural Earth 1:110m (public domain) as packaged by
// world-atlas (TopoJSON, ISC), turned into GeoJSON with topojson-client,
// each feature named by its ISO 3166-1 alpha-2 code (world-atlas names
// them by ISO numeric code; the table from i18n-iso-countries' codes.json)
// so that it matches the events' country codes. Coordinates are rounded to
// 0.01° (about 1 km: nothing a world map at this scale shows) to keep the
// file small. Run: make world-map.
import { readFileSync, writeFileSync } from 'node:fs';
import { feature } from 'topojson-client';

const topo = JSON.parse(readFileSync('node_modules/world-atlas/countries-110m.json', 'utf8'));
const codes = JSON.parse(readFileSync('node_modules/i18n-iso-countries/codes.json', 'utf8'));
const alpha2 = Object.fromEntries(codes.map((c) => [c[2], c[0]]));
const round = (x) => (Array.isArray(x) ? x.map(round) : Math.round(x * 100) / 100);

const skipped = [];
const features = [];
for (const f of feature(topo, topo.objects.countries).features) {
  const code = alpha2[f.id];
  // Antarctica takes a fifth of the map and holds no users.
  if (!code || code === 'AQ') {
    skipped.push(`${f.properties.name} (${f.id ?? 'no code'})`);
    continue;
  }
  features.push({ type: 'Feature', properties: { name: code }, geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) } });
}
features.sort((a, b) => a.properties.name.localeCompare(b.properties.name));
writeFileSync('../static/world.json', JSON.stringify({ type: 'FeatureCollection', features }));
console.log(`${features.length} countries written; left out: ${skipped.join(', ')}`);
