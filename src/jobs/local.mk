# jobs layer: see src/jobs/*.h. (sources are added as the layer is built)
