# http layer: see src/http/*.h. (sources are added as the layer is built)
