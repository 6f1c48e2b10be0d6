// Placeholder so the tokenizer library is never empty; removed once it has sources.
namespace talkie::tokenizer {
void Placeholder() {}
}
