# model layer: see src/model/*.h. (sources are added as the layer is built)
