# nn layer: see src/nn/*.h. (sources are added as the layer is built)
