{
  # The TAP addon: build/Release/shoal_tap.node.
  # Build with `node-gyp configure build` (never `node-gyp rebuild`: its
  # clean step deletes the whole build/ folder, wasm and bundles included).
  "targets": [
    {
      "target_name": "shoal_tap",
      "sources": ["native/tap.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
