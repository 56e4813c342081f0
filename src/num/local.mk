# num layer: see src/num/*.h. (sources are added as the layer is built)
