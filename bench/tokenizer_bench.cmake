# salut_tokenizer_bench: encode and load timing of salut's tokenizer (driven by tokenizer_bench.py).
add_executable(salut_tokenizer_bench ${CMAKE_CURRENT_LIST_DIR}/tokenizer_bench.cpp)
target_link_libraries(salut_tokenizer_bench PRIVATE salut_tokenizer)
