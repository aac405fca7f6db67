// Mapbox Vector Tiles (MVT 2.1) drawn on canvas tiles, for areas too many
// for one GeoJSON answer (a province's 20,000 grids). The tiles come from
// this server's OGC API - Tiles with the page's token; decoded features stay
// with their tile, so a new colouring redraws without fetching again.
"use strict";

window.WanggeVectorTiles = (() => {
  /** Protocol Buffers wire format: just what MVT uses. */
  class Reader {
    constructor(bytes, start = 0, end = bytes.length) { this.bytes = bytes; this.at = start; this.end = end; }
    more() { return this.at < this.end; }
    varint() {
      let value = 0, shift = 0, byte;
      do {
        if (this.at >= this.end) throw new Error("truncated varint");
        byte = this.bytes[this.at++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte >= 0x80);
      return value;
    }
    key() { const k = this.varint(); return { field: Math.floor(k / 8), wire: k & 7 }; }
    sub() { const length = this.varint(); const r = new Reader(this.bytes, this.at, this.at + length); this.at += length; return r; }
    string() { const r = this.sub(); return new TextDecoder().decode(this.bytes.subarray(r.at, r.end)); }
    packed() { const r = this.sub(), out = []; while (r.more()) out.push(r.varint()); return out; }
    skip(wire) {
      if (wire === 0) this.varint();
      else if (wire === 1) this.at += 8;
      else if (wire === 2) this.at += this.varint();
      else if (wire === 5) this.at += 4;
      else throw new Error("unknown wire type " + wire);
    }
  }

  const zigzag = (n) => (n % 2 === 1 ? -(n + 1) / 2 : n / 2);

  function value(r) {
    let v = null;
    while (r.more()) {
      const { field, wire } = r.key();
      if (field === 1) v = r.string();
      else if (field === 2) { v = new DataView(r.bytes.buffer, r.bytes.byteOffset + r.at, 4).getFloat32(0, true); r.at += 4; }
      else if (field === 3) { v = new DataView(r.bytes.buffer, r.bytes.byteOffset + r.at, 8).getFloat64(0, true); r.at += 8; }
      else if (field === 4 || field === 5) v = r.varint();
      else if (field === 6) v = zigzag(r.varint());
      else if (field === 7) v = r.varint() !== 0;
      else r.skip(wire);
    }
    return v;
  }

  /** Rings of a polygon feature in tile units (MoveTo, LineTo, ClosePath commands). */
  function rings(commands) {
    const out = [];
    let x = 0, y = 0, ring = null;
    for (let i = 0; i < commands.length;) {
      const command = commands[i] & 7, count = commands[i] >> 3;
      i++;
      if (command === 7) { if (ring) out.push(ring); ring = null; continue; }
      for (let n = 0; n < count; n++) {
        x += zigzag(commands[i++]);
        y += zigzag(commands[i++]);
        if (command === 1) ring = [[x, y]];
        else ring.push([x, y]);
      }
    }
    return out;
  }

  /** Every layer of a tile: {name: {extent, features: [{id, properties, rings}]}}. */
  function decode(bytes) {
    const tile = new Reader(bytes), layers = {};
    while (tile.more()) {
      const { field, wire } = tile.key();
      if (field !== 3) { tile.skip(wire); continue; }
      const r = tile.sub();
      const layer = { name: "", extent: 4096, keys: [], values: [], raw: [] };
      while (r.more()) {
        const k = r.key();
        if (k.field === 1) layer.name = r.string();
        else if (k.field === 2) layer.raw.push(r.sub());
        else if (k.field === 3) layer.keys.push(r.string());
        else if (k.field === 4) layer.values.push(value(r.sub()));
        else if (k.field === 5) layer.extent = r.varint();
        else r.skip(k.wire);
      }
      layer.features = layer.raw.map((f) => {
        const feature = { id: null, type: 0, properties: {}, rings: [] };
        while (f.more()) {
          const k = f.key();
          if (k.field === 1) feature.id = f.varint();
          else if (k.field === 2) {
            const tags = f.packed();
            for (let i = 0; i + 1 < tags.length; i += 2) feature.properties[layer.keys[tags[i]]] = layer.values[tags[i + 1]];
          } else if (k.field === 3) feature.type = f.varint();
          else if (k.field === 4) feature.rings = rings(f.packed());
          else f.skip(k.wire);
        }
        return feature;
      });
      delete layer.raw;
      layers[layer.name] = layer;
    }
    return layers;
  }

  const Layer = L.GridLayer.extend({
    createTile(coords, done) {
      const canvas = document.createElement("canvas");
      const size = this.getTileSize(), ratio = window.devicePixelRatio || 1;
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      const url = this.options.url.replace("{z}", coords.z).replace("{x}", coords.x).replace("{y}", coords.y);
      fetch(url, { headers: { Authorization: "Bearer " + this.options.token() } })
        .then((response) => {
          // 204 (no area in the tile) is read too: an unread body leaves the request cancelled.
          if (!response.ok) throw new Error(`${url}: ${response.status}`);
          return response.arrayBuffer();
        })
        .then((buffer) => {
          canvas.wangge = Object.values(decode(new Uint8Array(buffer)));
          this.paint(canvas);
          done(null, canvas);
        })
        .catch((error) => done(error, canvas));
      return canvas;
    },

    paint(canvas) {
      const context = canvas.getContext("2d");
      context.clearRect(0, 0, canvas.width, canvas.height);
      for (const layer of canvas.wangge || []) {
        const scale = canvas.width / layer.extent;
        for (const feature of layer.features) {
          if (feature.type !== 3) continue;
          const style = this.options.style(feature.properties);
          context.beginPath();
          for (const ring of feature.rings) {
            ring.forEach(([x, y], i) => (i === 0 ? context.moveTo(x * scale, y * scale) : context.lineTo(x * scale, y * scale)));
            context.closePath();
          }
          if (style.fill !== false && style.fillColor) {
            context.globalAlpha = style.fillOpacity ?? 0.7;
            context.fillStyle = style.fillColor;
            context.fill("evenodd");
          }
          context.globalAlpha = style.opacity ?? 1;
          context.strokeStyle = style.color || "#555555";
          context.lineWidth = (style.weight ?? 1) * (window.devicePixelRatio || 1);
          context.stroke();
        }
      }
    },

    /** New colours from the same tiles. */
    restyle() {
      for (const key in this._tiles) this.paint(this._tiles[key].el);
    },
  });

  return {
    decode,
    layer: (options) => new Layer({ tileSize: 256, updateWhenZooming: false, ...options }),
  };
})();
